package datasync

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/xbundle"
)

type publishedHash struct {
	size  int64
	mtime time.Time
	sum   string
}

// publishedSum returns the sha256 of a published file, cached by size and
// modification time, or "" if it does not exist.
func (s *Server) publishedSum(path string) (string, int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	s.mu.Lock()
	c, ok := s.sums[path]
	s.mu.Unlock()
	if ok && c.size == fi.Size() && c.mtime.Equal(fi.ModTime()) {
		return c.sum, fi.Size(), nil
	}
	sum, err := fileSha256(path)
	if err != nil {
		return "", 0, err
	}
	s.mu.Lock()
	if len(s.sums) > 100_000 { // bound the cache; it refills on demand
		clear(s.sums)
	}
	s.sums[path] = publishedHash{fi.Size(), fi.ModTime(), sum}
	s.mu.Unlock()
	return sum, fi.Size(), nil
}

// rememberSum caches the sha256 of a file just published, which was
// checked while it arrived, so that the commit need not read it again.
func (s *Server) rememberSum(path, sum string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	s.mu.Lock()
	if len(s.sums) > 100_000 {
		clear(s.sums)
	}
	s.sums[path] = publishedHash{fi.Size(), fi.ModTime(), sum}
	s.mu.Unlock()
}

func fileSha256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// unpack unpacks an X bundle into dir, within the gateway's quota and the
// attachment size limit, and counts what it wrote in the quota. A bad
// bundle is the branch's problem: 422 with quarantine set, nothing kept.
func (s *Server) unpack(gw string, t target, inc, dir string) error {
	lim := xbundle.Limits{MaxEntry: int64(s.cfg.MaxAttachment)}
	if q := int64(s.cfg.Quota); q > 0 {
		// The bundle itself is already counted while it arrived.
		lim.MaxTotal = max(1, q-s.usage(gw))
	}
	// Unpack makes dir durably, and nothing for a bundle it refuses. Its
	// making is not under dirMu: two unpacks making the same new
	// directory at once (one bundle a window per gateway: only two
	// gateways' first bundles on a fresh server) could answer one before
	// the other's fsync of the parent.
	res, err := xbundle.UnpackFS(s.cfg.FS, inc, dir, lim)
	s.addUsage(gw, res.Bytes)
	var ce *xbundle.CorruptionError
	var bad *xbundle.ContentError
	switch {
	case errors.As(err, &ce):
		// The branch's bundle was cut by a crash: its good entries are
		// what there is.
		s.log.Warn("attachment bundle is torn; its complete entries were unpacked", "gw", gw, "file", t.name, "err", err)
	case errors.As(err, &bad):
		s.stats.BadContent.Add(1)
		e := fail(http.StatusUnprocessableEntity, "%s: bad attachment bundle, nothing of it is kept; set it aside: %v", t.name, err)
		e.Body.Quarantine = true
		return e
	case errors.Is(err, xbundle.ErrTooMuch):
		s.stats.QuotaFull.Add(1)
		return fail(http.StatusInsufficientStorage, "quota of gateway %s: %s would unpack past the %d byte quota; nothing of it is kept", gw, t.name, s.cfg.Quota)
	case err != nil:
		return fmt.Errorf("unpack %s: %w", t.name, err)
	}
	s.log.Debug("unpacked attachments", "gw", gw, "file", t.name, "new", res.Entries, "bytes", res.Bytes)
	return nil
}

// verify refuses a sync_file that is not one or whose xz headers ask for
// more memory than the server's limits: 422 with quarantine set.
func (s *Server) verify(t target, inc string) error {
	err := logfile.Verify(inc, s.limits())
	var ce *logfile.CorruptionError
	if errors.As(err, &ce) {
		s.stats.BadContent.Add(1)
		e := fail(http.StatusUnprocessableEntity, "%s: refused, nothing of it is kept; set it aside: %v", t.name, ce.Err)
		e.Body.Quarantine = true
		return e
	}
	return err
}

// publish unpacks an X bundle (before it is published, so that a failed
// unpack is retried by the client), then renames the file into place.
func (s *Server) publish(gw string, t target, inc, final string) error {
	if !t.config && t.sync.Table == schema.Attachments {
		dir := s.root().AttachmentsDay(gw, t.sync.Day())
		fi, err := os.Stat(inc)
		if err != nil {
			return err
		}
		if fi.Size() > 0 {
			if err := s.unpack(gw, t, inc, dir); err != nil {
				return err
			}
		}
	}
	if !t.config && t.sync.Table != schema.Attachments {
		if err := s.verify(t, inc); err != nil {
			return err
		}
	}
	if err := s.mkdirs(filepath.Dir(final)); err != nil {
		return err
	}
	// The file was fsynced by finish; the rename is fsynced here: the
	// answer "complete" comes after both.
	if err := fileutil.RenameFS(s.cfg.FS, inc, final); err != nil {
		return fmt.Errorf("publish %s: %w", t.name, err)
	}
	if t.config {
		s.notifyLoad(gw)
	}
	return nil
}

// mkdirs makes a directory files are published in, durably, one maker at
// a time (see dirMu).
func (s *Server) mkdirs(dir string) error {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	return fileutil.MkdirAllFS(s.cfg.FS, dir)
}
