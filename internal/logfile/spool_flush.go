package logfile

import "errors"

// maxFreeBytes bounds the flushed chunks kept for the rows to come: a few
// frames' worth, what the busiest windows take between two flushes.
func maxFreeBytes(maxFrame int) int { return 4 * maxFrame }

// Flush appends every window's pending rows to its sync_file and publishes
// them as load_files, and returns once they are written. Call it every
// few seconds. With writers, the frames of the windows are written
// several at once; a frame that failed since the last Flush is reported
// here, its rows kept and retried.
func (s *Spool) Flush() error {
	err := s.eachWindow(s.flush)
	if s.cfg.Writers == 0 {
		return err
	}
	return errors.Join(err, s.drain(), s.eachWindow(func(w *window) error {
		if w.closing {
			return s.close(w)
		}
		return s.backfillOwed(w)
	}))
}

// flushNow is flush, returning once the frame is written.
func (s *Spool) flushNow(w *window) error {
	if err := s.flush(w); err != nil {
		return err
	}
	if err := s.await(w); err != nil {
		return err
	}
	return s.backfillOwed(w)
}
