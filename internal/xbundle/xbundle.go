// Package xbundle reads and writes the attachment bundle of a window (the
// X file, YYYYMMDD_HHMM_<GW>_X.dat): the contents that log rows refer to by
// sha256, each compressed, with its original name and type, followed by an
// index. A bundle is readable up to its last complete entry, so a writer
// that dies leaves a usable file. FORMAT.md beside this file describes the
// bytes.
package xbundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/pierrec/lz4/v4"
)

// Limits of an entry's metadata.
const (
	MaxNameLen = 4096
	MaxTypeLen = 255
	// MaxEntrySize bounds what a reader accepts for one content, so a
	// damaged size field cannot make it allocate without limit.
	MaxEntrySize = 1 << 30
	// MaxEntries bounds the entries of one bundle a reader accepts.
	MaxEntries = 1 << 20
)

const (
	version     = 1
	headerLen   = 8
	trailerLen  = 12
	entryFixed  = 4 + 32 + 8 + 8 + 1 + 2 + 2
	codecStored = 0
	codecLZ4    = 1
)

var (
	fileMagic  = []byte("ACXB")
	entryMagic = []byte("XENT")
	indexMagic = []byte("XIDX")
	endMagic   = []byte("XEND")
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// Entry describes one content of a bundle.
type Entry struct {
	Sum    [32]byte // sha256 of the content
	Size   int64    // uncompressed
	Name   string   // original file name
	Type   string   // media type
	offset int64    // of the entry's header
	stored int64
	codec  byte
	data   int64 // offset of the stored data
}

// Hex returns the sha256 as lower-case hex, the name of the unpacked file.
func (e Entry) Hex() string { return hex.EncodeToString(e.Sum[:]) }

// Writer appends entries to a bundle. It is not safe for concurrent use.
type Writer struct {
	w       io.Writer
	off     int64
	offsets []int64
	seen    map[[32]byte]bool
	closed  bool
}

// NewWriter writes the bundle header to w and returns a Writer.
func NewWriter(w io.Writer) (*Writer, error) {
	h := append(append([]byte{}, fileMagic...), version, 0, 0, 0)
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("xbundle: write header: %w", err)
	}
	return &Writer{w: w, off: headerLen, seen: make(map[[32]byte]bool)}, nil
}

// Add appends content with its original name and type and returns its
// sha256. Content already in the bundle is not written again.
func (w *Writer) Add(name, typ string, content []byte) ([32]byte, error) {
	sum := sha256.Sum256(content)
	if w.closed {
		return sum, errors.New("xbundle: add after close")
	}
	if len(name) > MaxNameLen || len(typ) > MaxTypeLen {
		return sum, fmt.Errorf("xbundle: name (%d bytes) or type (%d bytes) too long", len(name), len(typ))
	}
	if int64(len(content)) > MaxEntrySize {
		return sum, fmt.Errorf("xbundle: content of %d bytes is over the %d limit", len(content), MaxEntrySize)
	}
	if w.seen[sum] {
		return sum, nil
	}
	data, codec := content, byte(codecStored)
	var buf bytes.Buffer
	zw := lz4.NewWriter(&buf)
	if _, err := zw.Write(content); err == nil && zw.Close() == nil && buf.Len() < len(content) {
		data, codec = buf.Bytes(), codecLZ4
	}
	h := make([]byte, 0, entryFixed+len(name)+len(typ)+4)
	h = append(h, entryMagic...)
	h = append(h, sum[:]...)
	h = binary.LittleEndian.AppendUint64(h, uint64(len(content)))
	h = binary.LittleEndian.AppendUint64(h, uint64(len(data)))
	h = append(h, codec)
	h = binary.LittleEndian.AppendUint16(h, uint16(len(name)))
	h = binary.LittleEndian.AppendUint16(h, uint16(len(typ)))
	h = append(h, name...)
	h = append(h, typ...)
	h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], crc32.Checksum(data, castagnoli))
	for _, b := range [][]byte{h, data, tail[:]} {
		if _, err := w.w.Write(b); err != nil {
			return sum, fmt.Errorf("xbundle: write entry %q: %w", name, err)
		}
	}
	w.offsets = append(w.offsets, w.off)
	w.off += int64(len(h) + len(data) + 4)
	w.seen[sum] = true
	return sum, nil
}

// Close writes the index and trailer. It does not close the underlying
// writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	idx := append([]byte{}, indexMagic...)
	idx = binary.LittleEndian.AppendUint32(idx, uint32(len(w.offsets)))
	for _, o := range w.offsets {
		idx = binary.LittleEndian.AppendUint64(idx, uint64(o))
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.Checksum(idx, castagnoli))
	idx = binary.LittleEndian.AppendUint64(idx, uint64(w.off))
	idx = append(idx, endMagic...)
	if _, err := w.w.Write(idx); err != nil {
		return fmt.Errorf("xbundle: write index: %w", err)
	}
	return nil
}

// CorruptionError reports a bundle readable only up to Offset: the entries
// before it are good.
type CorruptionError struct {
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("xbundle: readable up to byte %d, then: %v", e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// Reader reads a bundle.
type Reader struct {
	r       io.ReaderAt
	size    int64
	entries []Entry
	err     error // why the entries end early, a *CorruptionError
}

// NewReader reads the list of entries of the bundle in r (size bytes): from
// its index when that checks out, else by scanning up to the last complete
// entry (Err then tells why it stopped). err is for a file that is not a
// bundle at all.
func NewReader(r io.ReaderAt, size int64) (*Reader, error) {
	b := &Reader{r: r, size: size}
	if err := b.checkHeader(); err != nil {
		return nil, err
	}
	b.err = b.walk(func(e Entry) error {
		b.entries = append(b.entries, e)
		return nil
	})
	return b, nil
}

func (b *Reader) checkHeader() error {
	var h [headerLen]byte
	if _, err := b.r.ReadAt(h[:], 0); err != nil {
		return fmt.Errorf("xbundle: read header: %w", err)
	}
	if !bytes.Equal(h[:4], fileMagic) {
		return fmt.Errorf("xbundle: not a bundle (magic % x)", h[:4])
	}
	if h[4] != version {
		return fmt.Errorf("xbundle: unknown version %d", h[4])
	}
	return nil
}

// Entries returns the good entries in the order they were written.
func (b *Reader) Entries() []Entry { return b.entries }

// Err reports why the entries end before the end of the file, or nil.
func (b *Reader) Err() error { return b.err }

// walk calls fn with each good entry, one at a time, so that a bundle of
// many entries costs no memory per entry: from the index when it checks
// out, else by scanning. It returns fn's error, or a *CorruptionError when
// the scan stopped early.
func (b *Reader) walk(fn func(Entry) error) error {
	offs, end, err := b.readIndex()
	if err == nil {
		// The index is checked whole first, so fn sees nothing of a bundle
		// whose index turns out bad half way.
		for _, off := range offs {
			if _, _, err = b.readEntry(off, end); err != nil {
				break
			}
		}
	}
	if err == nil {
		for _, off := range offs {
			e, _, _ := b.readEntry(off, end)
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
	off := int64(headerLen)
	for n := 0; off < b.size; n++ {
		e, next, err := b.readEntry(off, b.size)
		if err == nil && n >= MaxEntries {
			err = fmt.Errorf("more than %d entries", MaxEntries)
		}
		if err != nil {
			// A trailing index is not an entry: a clean end.
			if isIndexAt(b.r, off) {
				return nil
			}
			return &CorruptionError{Offset: off, Err: err}
		}
		if err := fn(e); err != nil {
			return err
		}
		off = next
	}
	return nil
}

// readIndex returns the entry offsets the index lists and where the index
// begins.
func (b *Reader) readIndex() ([]int64, int64, error) {
	if b.size < headerLen+trailerLen {
		return nil, 0, errors.New("no trailer")
	}
	var t [trailerLen]byte
	if _, err := b.r.ReadAt(t[:], b.size-trailerLen); err != nil {
		return nil, 0, err
	}
	if !bytes.Equal(t[8:], endMagic) {
		return nil, 0, errors.New("no trailer")
	}
	io := int64(binary.LittleEndian.Uint64(t[:8]))
	n := b.size - trailerLen - io
	if io < headerLen || n < 12 || (n-12)%8 != 0 || (n-12)/8 > MaxEntries {
		return nil, 0, errors.New("bad index offset")
	}
	idx := make([]byte, n)
	if _, err := b.r.ReadAt(idx, io); err != nil {
		return nil, 0, err
	}
	if !bytes.Equal(idx[:4], indexMagic) || crc32.Checksum(idx[:n-4], castagnoli) != binary.LittleEndian.Uint32(idx[n-4:]) {
		return nil, 0, errors.New("bad index")
	}
	count := int64(binary.LittleEndian.Uint32(idx[4:8]))
	if count != (n-12)/8 {
		return nil, 0, errors.New("bad index count")
	}
	offs := make([]int64, count)
	for i := range offs {
		offs[i] = int64(binary.LittleEndian.Uint64(idx[8+8*i:]))
	}
	return offs, io, nil
}

func isIndexAt(r io.ReaderAt, off int64) bool {
	var m [4]byte
	_, err := r.ReadAt(m[:], off)
	return err == nil && bytes.Equal(m[:], indexMagic)
}

// readEntry reads and checks the header of the entry at off and that its
// data fits before limit; the data checksum is checked when read.
func (b *Reader) readEntry(off, limit int64) (Entry, int64, error) {
	var fixed [entryFixed]byte
	if off+entryFixed > limit {
		return Entry{}, 0, io.ErrUnexpectedEOF
	}
	if _, err := b.r.ReadAt(fixed[:], off); err != nil {
		return Entry{}, 0, err
	}
	if !bytes.Equal(fixed[:4], entryMagic) {
		return Entry{}, 0, fmt.Errorf("no entry at byte %d", off)
	}
	var e Entry
	copy(e.Sum[:], fixed[4:36])
	e.Size = int64(binary.LittleEndian.Uint64(fixed[36:44]))
	e.stored = int64(binary.LittleEndian.Uint64(fixed[44:52]))
	e.codec = fixed[52]
	nl := int64(binary.LittleEndian.Uint16(fixed[53:55]))
	tl := int64(binary.LittleEndian.Uint16(fixed[55:57]))
	if e.Size < 0 || e.Size > MaxEntrySize || e.stored < 0 || e.stored > MaxEntrySize+MaxEntrySize/8 || e.codec > codecLZ4 {
		return Entry{}, 0, fmt.Errorf("entry at byte %d: bad sizes or codec", off)
	}
	end := off + entryFixed + nl + tl + 4
	if end > limit {
		return Entry{}, 0, io.ErrUnexpectedEOF
	}
	h := make([]byte, entryFixed+nl+tl+4)
	if _, err := b.r.ReadAt(h, off); err != nil {
		return Entry{}, 0, err
	}
	if crc32.Checksum(h[:len(h)-4], castagnoli) != binary.LittleEndian.Uint32(h[len(h)-4:]) {
		return Entry{}, 0, fmt.Errorf("entry at byte %d: header checksum mismatch", off)
	}
	e.Name = string(h[entryFixed : entryFixed+nl])
	e.Type = string(h[entryFixed+nl : entryFixed+nl+tl])
	e.offset, e.data = off, end
	next := end + e.stored + 4
	if next > limit {
		return Entry{}, 0, io.ErrUnexpectedEOF
	}
	return e, next, nil
}

// Content returns an entry's content after checking its checksums and its
// sha256.
func (b *Reader) Content(e Entry) ([]byte, error) {
	raw := make([]byte, e.stored+4)
	if _, err := b.r.ReadAt(raw, e.data); err != nil {
		return nil, fmt.Errorf("xbundle: read %s: %w", e.Hex(), err)
	}
	data := raw[:e.stored]
	if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(raw[e.stored:]) {
		return nil, fmt.Errorf("xbundle: %s (%q): data checksum mismatch", e.Hex(), e.Name)
	}
	if e.codec == codecLZ4 {
		// Not sized from e.Size: that is a claim, the data may be far less.
		buf := bytes.NewBuffer(make([]byte, 0, min(e.Size, 4*e.stored+64<<10)))
		if _, err := io.Copy(buf, io.LimitReader(lz4.NewReader(bytes.NewReader(data)), e.Size+1)); err != nil {
			return nil, fmt.Errorf("xbundle: %s (%q): lz4: %w", e.Hex(), e.Name, err)
		}
		data = buf.Bytes()
	}
	if int64(len(data)) != e.Size || sha256.Sum256(data) != e.Sum {
		return nil, fmt.Errorf("xbundle: %s (%q): content does not match its sha256", e.Hex(), e.Name)
	}
	return data, nil
}
