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
// grace period before now (packet time when reading captures).
func (s *Spool) Advance(now time.Time) error {
	return s.eachWindow(func(w *window) error {
		if w.name.Window.Add(WindowLength + s.cfg.Grace).After(now) {
			return nil
		}
		return s.close(w)
	})
}

// Close flushes and publishes every open window.
func (s *Spool) Close() error { return s.eachWindow(s.close) }

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
