package datasync

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
)

type partialHash struct {
	offset int64
	state  []byte // sha256 state, encoding.BinaryMarshaler
}

// declared reads and checks the size and sha256 a request declares.
func (s *Server) declared(sizeStr, sum string) (int64, string, error) {
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if err != nil || size < 0 {
		return 0, "", fail(http.StatusBadRequest, "bad size %q", sizeStr)
	}
	if size > int64(s.cfg.MaxFileSize) {
		return 0, "", fail(http.StatusRequestEntityTooLarge, "file of %d bytes is over the %d byte limit", size, s.cfg.MaxFileSize)
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size || strings.ToLower(sum) != sum {
		return 0, "", fail(http.StatusBadRequest, "bad sha256 %q (want 64 lower-case hex digits)", sum)
	}
	return size, sum, nil
}

func (s *Server) fileStatus(r *http.Request, gw, name string) (any, error) {
	t, err := s.acceptTarget(gw, name)
	if err != nil {
		return nil, err
	}
	size, sum, err := s.declared(r.URL.Query().Get("size"), r.URL.Query().Get("sha256"))
	if err != nil {
		return nil, err
	}
	have, haveSize, err := s.publishedSum(s.finalPath(gw, t))
	if err != nil {
		return nil, err
	}
	if have == sum && haveSize == size {
		return FileStatus{Name: name, Complete: true, Offset: size}, nil
	}
	fi, err := os.Stat(s.incomingPath(gw, t, size, sum))
	if err != nil {
		return FileStatus{Name: name}, nil
	}
	return FileStatus{Name: name, Offset: min(fi.Size(), size)}, nil
}

// lock marks gw/name as being uploaded; a second upload of the same file
// (a client retrying while its old connection is not yet dead) gets 409.
func (s *Server) lock(key string) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[key] {
		return nil, fail(http.StatusConflict, "%s is being uploaded by another connection; retry later", key)
	}
	s.busy[key] = true
	return func() {
		s.mu.Lock()
		delete(s.busy, key)
		s.mu.Unlock()
	}, nil
}

// upload receives frames from the offset the request names, appends them
// to the incoming file and publishes the file once it is whole and its
// sha256 checks out. Everything about the request (name, window, sizes,
// slots, quota) is checked before a byte is stored.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, gw, name string) (_ any, err error) {
	u, err := s.uploadRequest(r, gw, name)
	if err != nil {
		return nil, err
	}
	release, err := s.slots.take(gw)
	if err != nil {
		s.stats.Busy.Add(1)
		return nil, err
	}
	defer release()
	unlock, err := s.lock(gw + "/" + name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.stats.Uploads.Add(1)
	s.stats.Active.Add(1)
	defer s.stats.Active.Add(-1)

	haveSize, done, err := s.admit(gw, u)
	if err != nil {
		return nil, err
	}
	if done {
		s.stats.Duplicates.Add(1)
		io.Copy(io.Discard, io.LimitReader(r.Body, MaxFrame))
		return FileStatus{Name: name, Complete: true, Offset: u.size}, nil
	}

	inc := s.incomingPath(gw, u.t, u.size, u.sum)
	f, h, err := s.openIncoming(inc, name, u.offset)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	defer func() {
		// A refused upload that got nothing leaves no file behind.
		if err != nil {
			if fi, serr := os.Stat(inc); serr == nil && fi.Size() == 0 {
				s.cfg.FS.Remove(inc)
				s.removeEmptyDirs(inc)
			}
		}
	}()
	if err := s.receive(w, r, gw, name, f, h, u.offset, u.size); err != nil {
		return nil, err
	}
	return s.finish(gw, name, u.t, f, h, u.size, u.sum, haveSize)
}

// uploadReq is what an upload request declares: the file, its whole size
// and sha256, and the offset its frames start at.
type uploadReq struct {
	t      target
	size   int64
	sum    string
	offset int64
}

// uploadRequest checks the name, size, sha256 and offset an upload
// request declares.
func (s *Server) uploadRequest(r *http.Request, gw, name string) (uploadReq, error) {
	t, err := s.acceptTarget(gw, name)
	if err != nil {
		return uploadReq{}, err
	}
	size, sum, err := s.declared(r.Header.Get(HeaderSize), r.Header.Get(HeaderSha256))
	if err != nil {
		return uploadReq{}, err
	}
	offset, err := strconv.ParseInt(r.Header.Get(HeaderOffset), 10, 64)
	if err != nil || offset < 0 || offset > size {
		return uploadReq{}, fail(http.StatusBadRequest, "bad offset %q", r.Header.Get(HeaderOffset))
	}
	return uploadReq{t: t, size: size, sum: sum, offset: offset}, nil
}

// admit decides, with the upload's slot and lock held, whether the file
// is already published with this content (done), or may be stored: within
// the gateway's quota, and for a sync_file, in a window the gateway may
// still send. haveSize is the size of the version published before.
func (s *Server) admit(gw string, u uploadReq) (haveSize int64, done bool, err error) {
	have, haveSize, err := s.publishedSum(s.finalPath(gw, u.t))
	if err != nil {
		return 0, false, err
	}
	if have == u.sum && haveSize == u.size {
		return haveSize, true, nil
	}
	if q := int64(s.cfg.Quota); q > 0 && s.usage(gw)+u.size-haveSize > q {
		s.stats.QuotaFull.Add(1)
		return 0, false, fail(http.StatusInsufficientStorage, "quota of gateway %s exceeded: %d bytes stored, %d more would pass the %d byte quota", gw, s.usage(gw), u.size, q)
	}
	if !u.t.config {
		if err := s.firstWindow(gw, u.t.sync.Window); err != nil {
			return 0, false, err
		}
	}
	return haveSize, false, nil
}

// openIncoming opens the incoming file of an upload for appending, checks
// that it holds exactly offset bytes, and returns the sha256 of those.
// Nothing about it needs to be durable before finish: after a power cut
// the client resumes from what is left (a shorter file answers 416 with
// its size) and the sha256 of the whole file is checked again.
func (s *Server) openIncoming(inc, name string, offset int64) (fileutil.File, hash.Hash, error) {
	var f fileutil.File
	var err error
	for try := 0; try < 3; try++ {
		// Another upload's removeEmptyDirs may take the directory away
		// between the two: then make it again.
		if err = s.cfg.FS.MkdirAll(filepath.Dir(inc)); err != nil {
			return nil, nil, s.diskErr(err, 0)
		}
		if f, err = s.cfg.FS.OpenFile(inc, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return nil, nil, s.diskErr(err, 0)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if fi.Size() != offset {
		f.Close()
		if fi.Size() == 0 {
			s.cfg.FS.Remove(inc)
		}
		e := fail(http.StatusRequestedRangeNotSatisfiable, "have %d bytes of %s, not %d: resume from %d", fi.Size(), name, offset, fi.Size())
		e.Body.Offset = fi.Size()
		return nil, nil, e
	}
	if offset > 0 {
		s.stats.Resumed.Add(1)
	}
	h, err := s.resumeHash(inc, offset)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, h, nil
}

// receive appends the body's frames to f from offset up to size. A frame
// goes to the file as it arrives, through one small buffer, so an upload
// holds the same few KiB however big its frames and however slowly they
// come; a frame that fails its check is cut off the file again and the
// hash restored.
func (s *Server) receive(w http.ResponseWriter, r *http.Request, gw, name string, f fileutil.File, h hash.Hash, offset, size int64) error {
	inc := f.Name()
	rc := http.NewResponseController(w)
	buf := make([]byte, uploadBuf)
	for offset < size {
		// The deadline is renewed per frame: a client may be slow, but not
		// silent for longer than the idle timeout.
		rc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		before, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
		n, err := copyFrame(r.Body, f, h, buf, size-offset)
		if err != nil {
			if n > 0 || errors.Is(err, errBadFrame) {
				// Cut what may have been written, so the file holds only
				// whole frames, and forget them in the hash.
				f.Truncate(offset) // opened for appending: the next frame goes here
				h.(encoding.BinaryUnmarshaler).UnmarshalBinary(before)
			}
			s.savePartial(inc, offset, h)
			return s.frameErr(err, name, offset, size)
		}
		offset += n
		s.stats.Bytes.Add(uint64(n))
		s.addUsage(gw, n)
	}
	s.savePartial(inc, offset, h)
	rc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
	if n, _ := io.ReadFull(r.Body, buf[:1]); n > 0 {
		s.discard(gw, inc, size)
		return fail(http.StatusRequestEntityTooLarge, "%s: the body goes on after the %d bytes declared; nothing is kept", name, size)
	}
	return nil
}

// uploadBuf is the buffer an upload reads its frames through.
const uploadBuf = 32 << 10

// frameErr turns a failed frame into the answer that tells the client
// where to resume.
func (s *Server) frameErr(err error, name string, offset, size int64) error {
	var fse *frameSizeError
	var we *writeError
	var e *StatusError
	switch {
	case errors.As(err, &we):
		return s.diskErr(we.err, offset)
	case errors.As(err, &fse):
		e = fail(http.StatusRequestEntityTooLarge, "%s: %v", name, err)
	case errors.Is(err, errBadFrame):
		s.stats.BadFrames.Add(1)
		e = fail(http.StatusUnprocessableEntity, "%s: frame at byte %d: %v; re-send from %d", name, offset, err, offset)
	default:
		e = fail(http.StatusRequestTimeout, "%s: body ended at byte %d of %d: %v", name, offset, size, err)
	}
	e.Body.Offset = offset
	return e
}

// discard removes an incoming file and what is known of it.
func (s *Server) discard(gw, inc string, size int64) {
	s.cfg.FS.Remove(inc)
	s.removeEmptyDirs(inc)
	s.forgetPartial(inc)
	s.addUsage(gw, -size)
}

// removeEmptyDirs removes the incoming directories of inc if they are
// empty, so that a refused upload leaves nothing, not even a directory.
func (s *Server) removeEmptyDirs(inc string) {
	for d := filepath.Dir(inc); d != s.cfg.Root && strings.HasPrefix(d, s.cfg.Root); d = filepath.Dir(d) {
		if s.cfg.FS.Remove(d) != nil {
			return // not empty
		}
	}
}

// finish checks the whole file's sha256 and publishes it.
func (s *Server) finish(gw, name string, t target, f fileutil.File, h hash.Hash, size int64, sum string, haveSize int64) (any, error) {
	inc := f.Name()
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		f.Close()
		s.discard(gw, inc, size)
		return nil, fail(http.StatusUnprocessableEntity, "%s: sha256 of the whole file is %s, the client declared %s; the received bytes are discarded, send it again from 0", name, got, sum)
	}
	// Durable before it is published and answered complete: the branch
	// may forget a file the server said it has.
	if err := f.Sync(); err != nil {
		return nil, s.diskErr(err, size)
	}
	if err := f.Close(); err != nil {
		return nil, s.diskErr(err, size)
	}
	final := s.finalPath(gw, t)
	if err := s.publish(gw, t, inc, final); err != nil {
		var he *StatusError
		if errors.As(err, &he) {
			// Refused for its content or the quota: keep nothing of it.
			s.discard(gw, inc, size)
			return nil, he
		}
		return nil, s.diskErr(err, size)
	}
	s.rememberSum(final, sum)
	s.forgetPartial(inc)
	s.addUsage(gw, -haveSize)
	s.stats.Published.Add(1)
	s.log.Debug("received", "gw", gw, "file", name, "bytes", size)
	return FileStatus{Name: name, Complete: true, Offset: size}, nil
}

// resumeHash returns the sha256 of the first offset bytes of the incoming
// file: from memory when this server received them, else read again.
func (s *Server) resumeHash(path string, offset int64) (hash.Hash, error) {
	h := sha256.New()
	s.mu.Lock()
	p, ok := s.partial[path]
	s.mu.Unlock()
	if ok && p.offset == offset {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(p.state); err == nil {
			return h, nil
		}
		h.Reset()
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, offset)); err != nil {
		return nil, fmt.Errorf("hash the received part of %s: %w", path, err)
	}
	return h, nil
}

func (s *Server) savePartial(path string, offset int64, h hash.Hash) {
	st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return
	}
	s.mu.Lock()
	if len(s.partial) > 10_000 {
		clear(s.partial)
	}
	s.partial[path] = partialHash{offset, st}
	s.mu.Unlock()
}

func (s *Server) forgetPartial(path string) {
	s.mu.Lock()
	delete(s.partial, path)
	s.mu.Unlock()
}
