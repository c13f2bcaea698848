package logfile

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
)

// A frame on its way to the files. Every flush of a window takes its
// pending rows as a frameJob: the rows are compressed, appended to the
// sync_file and fsynced, then published as a load_file, in that order,
// whoever runs the job. With SpoolConfig.Writers the jobs run on
// goroutines of their own, several at once, while the spool's owner goes
// on taking rows (the compression and the fsyncs were most of what the
// owner did at a capture's end); without, on the owner at once. Frames
// of one window may be compressed at once, but each is appended only
// once the one before it is, so a sync_file's frames are in the order of
// their rows. The owner alone touches the window and the spool's
// counters: a job's writer only writes the window's file and reports,
// and the owner takes the report (done).
type frameJob struct {
	w        *window
	prev     *frameJob     // the window's frame before it, if in flight when this one was taken
	appended chan struct{} // closed once the frame is appended, or failed
	seq      uint64        // of the window's frames
	rows     rowBuf
	n        int    // rows
	firstID  uint64 // of the first row
	load     bool   // publish the rows as a load_file once in the sync_file
	size     int64  // of the sync_file: before the frame, then after it
	fw       *frameWriter

	// The writer's report.
	err     error // the frame is not in the sync_file: its rows are owed again
	loadErr error // the load_file is not written: a backfill is owed
}

// errEarlierFrame fails the frames taken after one that failed: they
// would be out of order in the sync_file.
var errEarlierFrame = errors.New("an earlier frame of the sync_file was not written")

// flush takes the window's pending rows as a frame. With writers the
// frame is written behind the owner's back, and a failure is reported by
// a later flush (the rows are kept and retried); without, it is written
// before flush returns. A backfill owed for the window is written once
// no frame of it is in flight.
func (s *Spool) flush(w *window) error {
	if len(w.failed) > 0 {
		// Its rows go first: wait until they are back.
		s.await(w)
	}
	if w.rows > 0 {
		if err := s.makeRoom(w); err != nil {
			return err
		}
		j := s.takeFrame(w)
		if s.cfg.Writers == 0 {
			j.write(s)
			if err := s.done(j); err != nil {
				return err
			}
		} else {
			go func() { j.write(s); s.reports <- j }()
		}
	}
	if w.jobs > 0 {
		return nil
	}
	return s.backfillOwed(w)
}

// takeFrame moves the window's pending rows into a job.
func (s *Spool) takeFrame(w *window) *frameJob {
	w.frameSeq++
	j := &frameJob{w: w, prev: w.last, appended: make(chan struct{}), seq: w.frameSeq, rows: w.pending, n: w.rows,
		firstID: w.firstID, size: w.size, fw: s.frameWriter()}
	j.load = !s.cfg.HighPerformance && s.loadAllowed(w)
	w.pending, w.rows = rowBuf{chunks: make([][]byte, 0, len(j.rows.chunks))}, 0
	w.last, w.jobs, w.jobRows, w.jobBytes = j, w.jobs+1, w.jobRows+j.n, w.jobBytes+j.rows.size
	s.inflight++
	return j
}

// write is the writer's part: the frame, its fsync, then the load_file.
// A frame that fails is cut off the file, so that later frames stay
// readable.
func (j *frameJob) write(s *Spool) {
	defer func() {
		if j.err != nil {
			close(j.appended)
		}
	}()
	w := j.w
	var frame *writeBuffer
	if j.prev != nil {
		// Compressed while the frame before it is written.
		frame = &j.fw.buf
		*frame = (*frame)[:0]
		if err := j.fw.append(frame, s.cfg.Codec, &j.rows); err != nil {
			j.err = fmt.Errorf("compress a frame of %s: %w", w.name, err)
			return
		}
		<-j.prev.appended
		if j.prev.err != nil {
			j.err = errEarlierFrame
			return
		}
		j.size = j.prev.size
	}
	if err := j.append(s, frame); err != nil {
		j.err = j.undo(err)
		return
	}
	fi, err := w.f.Stat()
	if err != nil {
		j.err = fmt.Errorf("stat %s: %w", w.f.Name(), err)
		return
	}
	j.size = fi.Size()
	close(j.appended)
	if j.load {
		dir := LoadDir(s.cfg.Root)
		ln := LoadName{Sync: w.name, FirstID: j.firstID}
		j.loadErr = s.writeLoad(filepath.Join(dir, ln.String()), filepath.Join(dir, ".tmp"), &j.rows)
	}
}

// append appends the frame (compressed already, when not nil) to the
// sync_file and fsyncs it.
func (j *frameJob) append(s *Spool, frame *writeBuffer) error {
	f := j.w.f
	var err error
	if frame != nil {
		_, err = f.Write(*frame)
	} else {
		err = j.fw.append(f, s.cfg.Codec, &j.rows)
	}
	if err != nil {
		return err
	}
	return f.Sync()
}

// undo cuts a half-written frame off the sync_file (a full disk, say).
func (j *frameJob) undo(cause error) error {
	f := j.w.f
	if err := f.Truncate(j.size); err != nil {
		return fmt.Errorf("append to %s: %w; and cutting the partial frame failed: %v", f.Name(), cause, err)
	}
	return fmt.Errorf("append to %s (rows kept in memory, retried at the next flush): %w", f.Name(), cause)
}

// done takes the report of job j: the window's file size and the
// counters, or, once no frame of the window is in flight, the rows of its
// failed frames back in front of its pending rows.
func (s *Spool) done(j *frameJob) error {
	w := j.w
	w.jobs, w.jobRows, w.jobBytes = w.jobs-1, w.jobRows-j.n, w.jobBytes-j.rows.size
	s.inflight--
	if w.last == j {
		w.last = nil
	}
	s.frameWriters = append(s.frameWriters, j.fw)
	if j.err != nil {
		if !errors.Is(j.err, errEarlierFrame) {
			s.stats.WriteErrors++
		}
		w.failed = append(w.failed, j)
		if w.jobs == 0 {
			s.restore(w)
		}
		return j.err
	}
	w.size = max(w.size, j.size)
	s.stats.Frames++
	if j.loadErr != nil {
		s.cfg.Logger.Warn("load_file not written; loader will back-fill from the sync_file",
			"file", LoadName{Sync: w.name, FirstID: j.firstID}.String(), "err", j.loadErr)
		w.backfill = true
	} else if j.load {
		s.stats.LoadFiles++
	}
	j.rows.reset(&s.chunks)
	return nil
}

// restore puts the rows of the window's failed frames, in their order,
// in front of its pending rows, to be flushed again.
func (s *Spool) restore(w *window) {
	slices.SortFunc(w.failed, func(a, b *frameJob) int { return cmp.Compare(a.seq, b.seq) })
	var rows rowBuf
	n := 0
	for _, j := range w.failed {
		rows.chunks = append(rows.chunks, j.rows.chunks...)
		rows.size += j.rows.size
		n += j.n
	}
	rows.chunks = append(rows.chunks, w.pending.chunks...)
	rows.size += w.pending.size
	w.pending, w.rows, w.firstID = rows, n+w.rows, w.failed[0].firstID
	clear(w.failed)
	w.failed = w.failed[:0]
}

// await waits until no frame of window w is in flight, taking the
// reports of the frames that end meanwhile; it returns the failures of
// w's frames (the others' are kept for the next Flush).
func (s *Spool) await(w *window) error {
	var errs []error
	for w.jobs > 0 {
		if err := s.report(w); err != nil && !errors.Is(err, errEarlierFrame) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// makeRoom waits until fewer than Writers frames are in flight; its
// error is a failed frame of window w.
func (s *Spool) makeRoom(w *window) error {
	for s.cfg.Writers > 0 && s.inflight >= s.cfg.Writers {
		if err := s.report(w); err != nil {
			return err
		}
	}
	return nil
}

// collect takes the reports of the frames written so far, without
// waiting; their failures are kept for drain.
func (s *Spool) collect() {
	for s.inflight > 0 {
		select {
		case j := <-s.reports:
			s.take(j, nil)
		default:
			return
		}
	}
}

// drain waits until no frame is in flight and returns the failures kept
// since the last drain.
func (s *Spool) drain() error {
	for s.inflight > 0 {
		s.report(nil)
	}
	err := errors.Join(s.failed...)
	s.failed = nil
	return err
}

// report waits for one report and takes it.
func (s *Spool) report(w *window) error { return s.take(<-s.reports, w) }

// take takes the report of frame j: it returns the failure of a frame of
// window w, and keeps the others' for drain.
func (s *Spool) take(j *frameJob, w *window) error {
	err := s.done(j)
	if err != nil && j.w != w {
		if !errors.Is(err, errEarlierFrame) {
			s.failed = append(s.failed, err)
		}
		return nil
	}
	return err
}

// frameWriter returns a compressor no job in flight uses.
func (s *Spool) frameWriter() *frameWriter {
	if k := len(s.frameWriters); k > 0 {
		fw := s.frameWriters[k-1]
		s.frameWriters = s.frameWriters[:k-1]
		return fw
	}
	return &frameWriter{}
}

// backfillOwed writes the backfill marker the window owes, if any.
func (s *Spool) backfillOwed(w *window) error {
	if !w.backfill {
		return nil
	}
	if err := s.writeBackfill(w.name); err != nil {
		return err
	}
	w.backfill = false
	return nil
}
