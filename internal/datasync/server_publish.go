package datasync

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

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

// publish unpacks an X bundle (before it is published, so that a failed
// unpack is retried by the client), then renames the file into place.
func (s *Server) publish(gw string, t target, inc, final string) error {
	if !t.config && t.sync.Table == schema.Attachments {
		dir := filepath.Join(s.cfg.Root, "attachments", gw, t.sync.Day())
		fi, err := os.Stat(inc)
		if err != nil {
			return err
		}
		if fi.Size() > 0 {
			n, err := xbundle.Unpack(inc, dir)
			var ce *xbundle.CorruptionError
			if errors.As(err, &ce) {
				// The branch's bundle was cut by a crash: its good entries
				// are what there is.
				s.log.Warn("attachment bundle is torn; its complete entries were unpacked", "gw", gw, "file", t.name, "err", err)
			} else if err != nil {
				return fmt.Errorf("unpack %s: %w", t.name, err)
			}
			s.addUsage(gw, 0)
			s.log.Debug("unpacked attachments", "gw", gw, "file", t.name, "new", n)
		}
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if err := logfile.RenameSync(inc, final); err != nil {
		return fmt.Errorf("publish %s: %w", t.name, err)
	}
	if t.config {
		s.notifyLoad()
	}
	return nil
}
