package xbundle

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/pierrec/lz4/v4"
)

// Limits bound what unpacking a bundle may take, whatever its entries
// claim. Memory is bounded anyway (contents are streamed to disk); these
// bound the disk.
type Limits struct {
	MaxEntry int64 // largest content; MaxEntrySize when 0
	MaxTotal int64 // most new bytes one Unpack may write; 0: no limit
}

// Unpacked says what an Unpack wrote.
type Unpacked struct {
	Entries int   // new contents
	Bytes   int64 // their size
}

// ContentError is a bundle whose entry fails a check (checksum, size,
// sha256) or a limit: the bundle is bad, not the disk. Nothing of it was
// unpacked.
type ContentError struct {
	Entry string // sha256 hex the entry claims
	Err   error
}

func (e *ContentError) Error() string { return fmt.Sprintf("xbundle: entry %s: %v", e.Entry, e.Err) }

func (e *ContentError) Unwrap() error { return e.Err }

// ErrTooMuch is a bundle that would unpack to more than Limits.MaxTotal.
var ErrTooMuch = errors.New("unpacks to more than allowed")

// Unpack writes each good entry of the bundle at path to dir/<sha256 hex>,
// skipping contents already there. Every entry is first extracted into a
// staging directory beside the bundle (on the same file system as dir)
// and checked; only when all are good are
// they renamed into place (each fsynced), so a bad bundle leaves nothing
// behind. A bundle readable only in part (a writer that died) unpacks its
// good entries and returns its *CorruptionError; a bad entry gives a
// *ContentError; over lim.MaxTotal gives an error wrapping ErrTooMuch.
func Unpack(path, dir string, lim Limits) (Unpacked, error) {
	return UnpackFS(fileutil.OS, path, dir, lim)
}

// UnpackFS is Unpack writing through fsys (a fileutil.CutFS in power-cut
// tests). When it returns, what it unpacked is durable: each content
// fsynced, dir's entries fsynced, and dir itself if it made it.
func UnpackFS(fsys fileutil.FS, path, dir string, lim Limits) (Unpacked, error) {
	if lim.MaxEntry <= 0 || lim.MaxEntry > MaxEntrySize {
		lim.MaxEntry = MaxEntrySize
	}
	f, b, err := openBundle(path)
	if err != nil {
		return Unpacked{}, err
	}
	defer f.Close()
	// The staging directory is beside the bundle, so that a refused
	// bundle leaves not even a directory where contents go.
	// It needs no fsync: after a cut the bundle is unpacked again.
	stage := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".unpack-"+strconv.FormatUint(rand.Uint64(), 36))
	if err := fsys.MkdirAll(stage); err != nil {
		return Unpacked{}, fmt.Errorf("xbundle: %w", err)
	}
	u := &unpacking{fsys: fsys, b: b, path: path, dir: dir, stage: stage, lim: lim, staged: make(map[string]bool)}
	defer u.removeStaged()
	walkErr := b.walk(u.stageEntry)
	var ce *CorruptionError
	if walkErr != nil && !errors.As(walkErr, &ce) {
		return Unpacked{}, walkErr
	}
	if res, err := u.install(); err != nil {
		return res, err
	}
	if walkErr != nil {
		return u.res, fmt.Errorf("%s: %w", path, walkErr)
	}
	return u.res, nil
}

// openBundle opens the bundle at path and checks its header. The caller
// closes the file.
func openBundle(path string) (*os.File, *Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("xbundle: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("xbundle: %w", err)
	}
	b := &Reader{r: f, size: fi.Size()}
	if err := b.checkHeader(); err != nil {
		f.Close()
		return nil, nil, &ContentError{Err: fmt.Errorf("%s: %w", path, err)}
	}
	return f, b, nil
}

// unpacking is one UnpackFS under way: the entries staged so far, and
// what renaming them into dir will have written.
type unpacking struct {
	fsys             fileutil.FS
	b                *Reader
	path, dir, stage string
	lim              Limits
	res              Unpacked
	names            []string        // staged, in bundle order
	staged           map[string]bool // staged and not yet renamed
}

// stageEntry extracts one entry into the staging directory, unless dir
// has it already or the bundle listed it before.
func (u *unpacking) stageEntry(e Entry) error {
	name := e.Hex()
	if _, err := os.Stat(filepath.Join(u.dir, name)); err == nil {
		return nil
	}
	if u.staged[name] {
		return nil // listed twice
	}
	if e.Size > u.lim.MaxEntry {
		return &ContentError{Entry: name, Err: fmt.Errorf("content of %d bytes is over the %d byte limit", e.Size, u.lim.MaxEntry)}
	}
	if u.lim.MaxTotal > 0 && u.res.Bytes+e.Size > u.lim.MaxTotal {
		return fmt.Errorf("xbundle: %s: %w (%d bytes)", u.path, ErrTooMuch, u.lim.MaxTotal)
	}
	u.staged[name] = true
	if err := u.b.extract(u.fsys, e, filepath.Join(u.stage, name)); err != nil {
		return err
	}
	u.names = append(u.names, name)
	u.res.Bytes += e.Size
	return nil
}

// install renames the staged contents into dir and fsyncs dir. On error
// it returns what UnpackFS returns.
func (u *unpacking) install() (Unpacked, error) {
	if len(u.names) > 0 {
		if err := fileutil.MkdirAllFS(u.fsys, u.dir); err != nil {
			return Unpacked{}, fmt.Errorf("xbundle: %w", err)
		}
	}
	for _, name := range u.names {
		if err := u.fsys.Rename(filepath.Join(u.stage, name), filepath.Join(u.dir, name)); err != nil {
			return u.res, fmt.Errorf("xbundle: unpack %s: %w", name, err)
		}
		delete(u.staged, name)
		u.res.Entries++
	}
	if len(u.names) > 0 {
		if err := fileutil.SyncDirFS(u.fsys, u.dir); err != nil {
			return u.res, fmt.Errorf("xbundle: %w", err)
		}
	}
	return u.res, nil
}

// removeStaged removes what was staged and not renamed, and the staging
// directory.
func (u *unpacking) removeStaged() {
	for name := range u.staged {
		u.fsys.Remove(filepath.Join(u.stage, name))
	}
	u.fsys.Remove(u.stage)
}

// extract streams an entry's content to dst (fsynced), checking its data
// checksum, its size and its sha256 without holding it in memory.
func (b *Reader) extract(fsys fileutil.FS, e Entry, dst string) (err error) {
	bad := func(format string, args ...any) error {
		return &ContentError{Entry: e.Hex(), Err: fmt.Errorf(format, args...)}
	}
	var tail [4]byte
	if _, err := b.r.ReadAt(tail[:], e.data+e.stored); err != nil {
		return bad("read: %v", err)
	}
	crc := crc32.New(castagnoli)
	if _, err := io.Copy(crc, io.NewSectionReader(b.r, e.data, e.stored)); err != nil {
		return bad("read: %v", err)
	}
	if crc.Sum32() != binary.LittleEndian.Uint32(tail[:]) {
		return bad("data checksum mismatch")
	}
	var src io.Reader = io.NewSectionReader(b.r, e.data, e.stored)
	if e.codec == codecLZ4 {
		src = onlyReader{lz4.NewReader(src)}
	}
	out, err := fsys.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	w := &diskWriter{w: out}
	// One byte past the size tells a content longer than it claims.
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(src, e.Size+1))
	if err != nil {
		var pe *os.PathError
		if w.err != nil || errors.As(err, &pe) {
			return err // the disk, not the bundle
		}
		return bad("lz4: %v", err)
	}
	if n != e.Size || [32]byte(h.Sum(nil)) != e.Sum {
		return bad("content does not match its size and sha256")
	}
	return out.Sync()
}

// diskWriter remembers a failed write: the disk's fault, not the bundle's.
type diskWriter struct {
	w   io.Writer
	err error
}

func (d *diskWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if err != nil {
		d.err = err
	}
	return n, err
}

// onlyReader hides lz4.Reader's WriteTo, which stops after one frame.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
