package loader

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"

	"github.com/acstore/acstore/internal/logfile"
)

// filesReader reads the rows of several files one after the other, opening
// each only when the previous one is done.
type filesReader struct {
	files []pending
	cur   *logfile.RowStream
	i     int
	err   error
	log   *slog.Logger
	lim   logfile.Limits
}

func (r *filesReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.i == len(r.files) || r.err != nil {
				return 0, io.EOF
			}
			f := r.files[r.i]
			s, err := logfile.OpenRowsLimits(f.path, f.codec, r.lim)
			if err != nil {
				// Ending the stream here loads the files before it; the
				// error makes the batch fail and be retried file by file.
				r.err = fmt.Errorf("open %s: %w", f.path, err)
				return 0, io.EOF
			}
			r.cur = s
		}
		n, err := r.cur.Read(p)
		if n > 0 {
			return n, nil
		}
		if err == io.EOF {
			if terr := r.cur.Err(); terr != nil {
				r.log.Warn("file has a torn or damaged tail; its complete rows were loaded", "err", terr)
			}
			r.cur.Close()
			r.cur = nil
			r.i++
			continue
		}
		return n, err
	}
}

func (r *filesReader) Close() {
	if r.cur != nil {
		r.cur.Close()
	}
}

// statements cuts a stream of whole rows into the rows of successive
// statements: each ends at the first row end past max bytes (0: never).
type statements struct {
	r     io.Reader
	max   int64
	n     int64  // bytes in the current statement
	carry []byte // rows read past the end of the current statement
	cut   bool   // the current statement is complete
	eof   bool   // r is done
}

func (s *statements) Read(p []byte) (int, error) {
	if s.cut || s.eof && len(s.carry) == 0 {
		return 0, io.EOF
	}
	var n int
	if len(s.carry) > 0 {
		n = copy(p, s.carry)
		s.carry = s.carry[n:]
	} else {
		var err error
		n, err = s.r.Read(p)
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			return n, err
		}
	}
	if s.max > 0 && s.n+int64(n) >= s.max {
		from := max(0, s.max-s.n-1)
		if i := bytes.IndexByte(p[from:n], '\n'); i >= 0 {
			end := int(from) + i + 1
			s.carry = append(bytes.Clone(p[end:n]), s.carry...)
			n, s.cut = end, true
		}
	}
	s.n += int64(n)
	if n == 0 && (s.eof || s.cut) {
		return 0, io.EOF
	}
	return n, nil
}

// next starts the next statement; false when the rows are all read.
func (s *statements) next() bool {
	s.cut, s.n = false, 0
	return !s.eof || len(s.carry) > 0
}
