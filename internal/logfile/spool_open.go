package logfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/acstore/acstore/internal/fileutil"
)

// open opens the window's file for appending. A file already published
// under the final name (the clock went back, or late rows) is reopened;
// a .part file left by a crash is cut at its last complete row and owes a
// backfill.
func (s *Spool) open(n Name) (*window, error) {
	final := n.Path(s.cfg.Root)
	part := final + ".part"
	fsys := s.cfg.FS
	if err := fileutil.MkdirAllFS(fsys, filepath.Dir(final)); err != nil {
		return nil, err
	}
	w := &window{name: n, index: n.WindowIndex()}
	if _, err := os.Stat(final); err == nil {
		if err := fileutil.RenameFS(fsys, final, part); err != nil {
			return nil, fmt.Errorf("reopen %s: %w", final, err)
		}
		s.cfg.Logger.Info("reopened a published sync_file for late rows", "file", n.String())
	} else if _, err := os.Stat(part); err == nil {
		w.backfill = !s.cfg.HighPerformance
	}
	_, err := os.Stat(part)
	created := err != nil
	if !created {
		st, err := StatFile(part, LZ4)
		if err != nil {
			return nil, err
		}
		if st.LiveRows > 0 {
			w.seq = idSeq(st.MaxLiveID) + 1
		}
		w.slotMax = st.SlotMax
		if st.Err != nil {
			s.cfg.Logger.Warn("cutting the torn tail of a sync_file", "err", st.Err, "rows_kept", st.Rows)
			if err := s.rewrite(part); err != nil {
				return nil, fmt.Errorf("cut torn tail of %s: %w", part, err)
			}
		}
	}
	f, err := fsys.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if created {
		// The new .part must survive a power cut before any load_file
		// names rows in it.
		if err := fileutil.SyncDirFS(fsys, filepath.Dir(part)); err != nil {
			f.Close()
			return nil, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	w.f, w.size = f, fi.Size()
	s.windows[n] = w
	return w, nil
}

// rewrite replaces a torn file by one frame holding its good rows.
func (s *Spool) rewrite(part string) error {
	rs, err := OpenRows(part, LZ4)
	if err != nil {
		return err
	}
	good, err := io.ReadAll(rs)
	codec := rs.Codec()
	rs.Close()
	if err != nil {
		return err
	}
	var buf writeBuffer
	if len(good) > 0 {
		if err := appendFrame(&buf, codec, good); err != nil {
			return err
		}
	}
	return fileutil.WriteFileFS(s.cfg.FS, part, filepath.Dir(part), buf)
}

type writeBuffer []byte

func (b *writeBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }
