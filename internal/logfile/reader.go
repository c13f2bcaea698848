package logfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// CorruptionError reports a file that could be read only up to Offset (in
// uncompressed bytes, at a row boundary): a torn tail left by a writer that
// died, or damage. Every row before Offset is good.
type CorruptionError struct {
	Path   string
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("%s: readable up to byte %d of its rows, then: %v", e.Path, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// RowStream reads the row text of a file, uncompressed, and ends at the last
// complete row: a torn or damaged tail is never passed on. When the stream
// ends early, Read returns io.EOF and Err reports why. Its output can be
// given straight to LOAD DATA.
type RowStream struct {
	path  string
	f     *os.File
	src   io.Reader
	codec Codec
	buf   []byte // buf[off:end] is data not yet passed on
	off   int
	end   int
	safe  int // buf[off:safe] ends with a newline and may be passed on
	pos   int64
	err   error // why the stream ended early
	eof   bool
	lim   Limits
	in    *countReader // the compressed bytes read; nil for Plain
	out   int64        // the row bytes decompressed
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

const streamBuf = 256 << 10

// OpenRows opens a sync_file (LZ4 or xz, told by its magic) or, when codec
// is Plain, a load_file, with the default Limits.
func OpenRows(path string, codec Codec) (*RowStream, error) {
	return OpenRowsLimits(path, codec, Limits{})
}

// OpenRowsLimits is OpenRows with the memory it may take bounded by lim: a
// file asking for more ends as damage (a *CorruptionError wrapping a
// *LimitError) after its rows that fit.
func OpenRowsLimits(path string, codec Codec, lim Limits) (*RowStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	lim = lim.withDefaults()
	s := &RowStream{path: path, f: f, buf: make([]byte, min(streamBuf, lim.MaxRow)), codec: codec, lim: lim}
	if codec == Plain {
		s.src = f
		return s, nil
	}
	s.in = &countReader{r: f}
	br := bufio.NewReaderSize(s.in, 64<<10)
	s.src, s.codec, err = decompressor(br, lim)
	if err != nil {
		f.Close()
		return nil, &CorruptionError{Path: path, Err: err}
	}
	return s, nil
}

// Codec reports the compression of the file.
func (s *RowStream) Codec() Codec { return s.codec }

// Read implements io.Reader.
func (s *RowStream) Read(p []byte) (int, error) {
	for s.off == s.safe {
		if s.eof {
			return 0, io.EOF
		}
		s.fill()
	}
	n := copy(p, s.buf[s.off:s.safe])
	s.off += n
	s.pos += int64(n)
	return n, nil
}

// fill reads more from the source and advances safe to the last newline.
func (s *RowStream) fill() {
	if s.off > 0 { // move the partial row to the front
		s.end = copy(s.buf, s.buf[s.off:s.end])
		s.off, s.safe = 0, 0
	}
	var n int
	var err error
	if s.end == len(s.buf) { // one row bigger than the buffer
		if len(s.buf) >= s.lim.MaxRow {
			err = &LimitError{What: "row", Asked: -1, Limit: int64(s.lim.MaxRow)}
		} else {
			s.buf = append(s.buf, make([]byte, min(len(s.buf), s.lim.MaxRow-len(s.buf)))...)
		}
	}
	if err == nil {
		n, err = s.src.Read(s.buf[s.end:])
	}
	s.end += n
	if i := bytes.LastIndexByte(s.buf[s.safe:s.end], '\n'); i >= 0 {
		s.safe += i + 1
	}
	s.out += int64(n)
	if err == nil && s.in != nil && s.out > RatioFloor && s.out > s.lim.MaxRatio*s.in.n {
		err = &LimitError{What: ratioLimit, Asked: s.out / max(1, s.in.n), Limit: s.lim.MaxRatio}
	}
	if err == nil {
		return
	}
	s.eof = true
	if errors.Is(err, io.EOF) && s.codec == XZ && !s.xzComplete() {
		// ulikunitz/xz reads a file cut inside a block header as a clean
		// end; a complete xz file ends with the footer magic "YZ".
		err = errors.New("xz stream cut before its footer")
	}
	switch {
	case errors.Is(err, io.EOF) && s.safe == s.end:
		// a clean end
	case errors.Is(err, io.EOF):
		s.err = &CorruptionError{Path: s.path, Offset: s.pos + int64(s.safe-s.off),
			Err: fmt.Errorf("last row has no newline (%d bytes cut)", s.end-s.safe)}
	default:
		s.err = &CorruptionError{Path: s.path, Offset: s.pos + int64(s.safe-s.off), Err: err}
	}
}

func (s *RowStream) xzComplete() bool {
	fi, err := s.f.Stat()
	if err != nil || fi.Size() < 2 {
		return false
	}
	var tail [2]byte
	_, err = s.f.ReadAt(tail[:], fi.Size()-2)
	return err == nil && tail == [2]byte{'Y', 'Z'}
}

// Err reports why the stream ended before the end of the file, as a
// *CorruptionError, or nil if it read the whole file.
func (s *RowStream) Err() error { return s.err }

// Close closes the file.
func (s *RowStream) Close() error { return s.f.Close() }

// Rows iterates over the rows of a RowStream.
type Rows struct {
	s   *RowStream
	br  *bufio.Reader
	row []byte
	n   int
	err error
}

// NewRows reads s row by row.
func NewRows(s *RowStream) *Rows {
	return &Rows{s: s, br: bufio.NewReaderSize(s, 64<<10)}
}

// Next advances to the next row and reports whether there is one.
func (r *Rows) Next() bool {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		// RowStream only ever ends on a newline, so err is io.EOF with
		// nothing read.
		r.err = r.s.Err()
		return false
	}
	r.row = line[:len(line)-1]
	r.n++
	return true
}

// Row returns the current row without its newline; valid until Next.
func (r *Rows) Row() []byte { return r.row }

// Count reports how many rows Next has returned.
func (r *Rows) Count() int { return r.n }

// Err reports a torn or damaged tail as a *CorruptionError.
func (r *Rows) Err() error { return r.err }

// Stat summarises a sync_file or load_file.
type Stat struct {
	Rows  int
	MaxID uint64
	// LiveRows and MaxLiveID count the rows of live capture (capture
	// slot 0) and give the highest of their ids.
	LiveRows  int
	MaxLiveID uint64
	// SlotMax is the highest id of each capture slot (not 0) in the file.
	SlotMax map[uint64]uint64
	Err     error // a *CorruptionError if the file is torn or damaged
}

// StatFile reads a file through and counts its rows. A torn file is not an
// error: its good part is counted and Stat.Err says where it ends. err is
// for a file that cannot be opened or is not a sync_file at all.
func StatFile(path string, codec Codec) (Stat, error) {
	s, err := OpenRows(path, codec)
	if err != nil {
		return Stat{}, err
	}
	defer s.Close()
	rows := NewRows(s)
	var st Stat
	for rows.Next() {
		id, err := RowID(rows.Row())
		if err != nil {
			return st, fmt.Errorf("%s row %d: %w", path, rows.Count(), err)
		}
		st.MaxID = max(st.MaxID, id)
		if slot := IDSlot(id); slot == 0 {
			st.LiveRows++
			st.MaxLiveID = max(st.MaxLiveID, id)
		} else {
			if st.SlotMax == nil {
				st.SlotMax = make(map[uint64]uint64)
			}
			st.SlotMax[slot] = max(st.SlotMax[slot], id)
		}
	}
	st.Rows = rows.Count()
	st.Err = rows.Err()
	return st, nil
}
