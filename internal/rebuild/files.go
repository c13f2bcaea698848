package rebuild

import (
	"errors"
	"io"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// filesReader reads the good rows of a gateway's sync_files one file
// after the other, so that one LOAD DATA statement loads a whole day of
// them. MyISAM builds the indexes of an empty table by sorting, once, at
// the end of a bulk insert; one statement per file keeps that for the
// first file only and inserts every later row into the indexes one by one
// (a whole-day rebuild ran at 0.6x the server's own LOAD DATA INFILE).
type filesReader struct {
	table *schema.Table
	paths []string
	// done is told of each file read to its end, with the error of its
	// torn or damaged tail if it had one (its good rows were read).
	done func(path string, torn error)

	path string
	rows *logfile.RowStream
	r    io.Reader
}

func (f *filesReader) Read(p []byte) (int, error) {
	for {
		if f.r == nil {
			if len(f.paths) == 0 {
				return 0, io.EOF
			}
			f.path, f.paths = f.paths[0], f.paths[1:]
			rs, err := logfile.OpenRows(f.path, logfile.LZ4)
			var ce *logfile.CorruptionError
			if errors.As(err, &ce) {
				f.done(f.path, err) // not readable at all: nothing to load from it
				continue
			}
			if err != nil {
				return 0, err
			}
			f.rows, f.r = rs, logfile.Upgrade(f.table, rs)
		}
		n, err := f.r.Read(p)
		if err == io.EOF {
			torn := f.rows.Err()
			f.rows.Close()
			f.rows, f.r = nil, nil
			f.done(f.path, torn)
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// Close closes the file being read, if a load stopped in its middle.
func (f *filesReader) Close() error {
	if f.rows == nil {
		return nil
	}
	err := f.rows.Close()
	f.rows, f.r = nil, nil
	return err
}
