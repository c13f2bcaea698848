package loader

import (
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
