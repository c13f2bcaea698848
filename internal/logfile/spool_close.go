package logfile

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
)

// close flushes the window and publishes its sync_file under its final name.
func (s *Spool) close(w *window) error {
	if err := s.flushNow(w); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	delete(s.windows, w.name)
	if s.recent[w.name.Table] == w {
		s.recent[w.name.Table] = nil
	}
	final := w.name.Path(s.cfg.Root)
	if err := fileutil.RenameFS(s.cfg.FS, final+".part", final); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	s.stats.Published++
	return nil
}

// Advance publishes the sync_files of the windows that ended more than the
// grace period before now (packet time when reading captures). With
// writers it does not wait for their last frames: a window that ended is
// published by the first Advance, Flush or Close after its frames are
// written. At a window's end every table's last frame is written at
// once, and waiting for them held up the rows of the next window (tens
// of milliseconds for every 5 minutes of a busy capture).
func (s *Spool) Advance(now time.Time) error {
	s.collect()
	return s.eachWindow(func(w *window) error {
		if !w.closing {
			if w.name.Window.Add(WindowLength + s.cfg.Grace).After(now) {
				return nil
			}
			if s.cfg.Writers == 0 {
				return s.close(w)
			}
			w.closing = true
		}
		return s.settle(w)
	})
}

// settle moves a window that ended towards being published: its rows
// (late ones too) go into a frame when a writer is free, and once none is
// pending or in flight the window is closed.
func (s *Spool) settle(w *window) error {
	if w.rows > 0 || len(w.failed) > 0 {
		if s.inflight >= s.cfg.Writers {
			return nil // at the next Advance
		}
		if err := s.flush(w); err != nil {
			return err
		}
	}
	if w.jobs > 0 {
		return nil
	}
	return s.close(w)
}

// Close flushes and publishes every open window. It returns the failures
// of frames written since the last Flush too, rows retried or not.
func (s *Spool) Close() error { return errors.Join(s.eachWindow(s.close), s.drain()) }

// eachWindow calls fn on every open window, in the order of their names,
// going on past a window's error: one window's full disk or bad file must
// not keep the others from being written. It returns the errors joined.
func (s *Spool) eachWindow(fn func(*window) error) error {
	var errs []error
	for _, w := range s.openWindows() {
		if err := fn(w); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// openWindows returns the open windows in the order of their names, so that the
// files are written in the same order every run (a map's order is not):
// what a crash or a power cut at a given moment leaves is then the same.
func (s *Spool) openWindows() []*window {
	ws := slices.Collect(maps.Values(s.windows))
	slices.SortFunc(ws, func(a, b *window) int { return strings.Compare(a.name.String(), b.name.String()) })
	return ws
}
