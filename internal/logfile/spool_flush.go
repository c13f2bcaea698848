package logfile

import (
	"fmt"
)

// maxFreeBytes bounds the flushed chunks kept for the rows to come: a few
// frames' worth, what the busiest windows take between two flushes.
func maxFreeBytes(maxFrame int) int { return 4 * maxFrame }

// flush appends the window's pending rows to its sync_file as one frame,
// fsyncs, and then publishes them as a load_file.
func (s *Spool) flush(w *window) error {
	if w.rows > 0 {
		if err := s.frames.append(w.f, s.cfg.Codec, &w.pending); err != nil {
			return s.undoFrame(w, err)
		}
		if err := w.f.Sync(); err != nil {
			return s.undoFrame(w, err)
		}
		fi, err := w.f.Stat()
		if err != nil {
			return fmt.Errorf("stat %s: %w", w.f.Name(), err)
		}
		w.size = fi.Size()
		s.stats.Frames++
		if !s.cfg.HighPerformance {
			s.publishLoad(w)
		}
		w.pending.reset(&s.chunks)
		w.rows = 0
	}
	if w.backfill {
		if err := s.writeBackfill(w.name); err != nil {
			return err
		}
		w.backfill = false
	}
	return nil
}

// Flush appends every window's pending rows to its sync_file and publishes
// them as load_files. Call it every few seconds.
func (s *Spool) Flush() error { return s.eachWindow(s.flush) }

// undoFrame cuts a half-written frame off the sync_file (a full disk, say),
// so that the frames appended later stay readable. The rows stay pending.
func (s *Spool) undoFrame(w *window, cause error) error {
	s.stats.WriteErrors++
	if err := w.f.Truncate(w.size); err != nil {
		return fmt.Errorf("append to %s: %w; and cutting the partial frame failed: %v", w.f.Name(), cause, err)
	}
	return fmt.Errorf("append to %s (rows kept in memory, retried at the next flush): %w", w.f.Name(), cause)
}
