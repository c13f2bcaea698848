package logfile

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/schema"
)

// ErrDropped reports a row refused because its sync_file cannot be written.
var ErrDropped = errors.New("row dropped: its sync_file cannot be written (disk full?)")

// maxPendingFrames bounds the rows a window holds in memory while its
// sync_file cannot be written.
const maxPendingFrames = 4

// Spool writes rows into sync_files (one per table per 5-minute window,
// compressed, appended to frame by frame) and load_files (plain, published
// atomically at each Flush). The order of every flush is: the frame is
// appended to the sync_file and fsynced, then the same rows are published as
// a load_file. So a row is never in the database without being in a
// sync_file, and a crash between the two is repaired at the next start by a
// backfill marker. A Spool is not safe for concurrent use.
type Spool struct {
	cfg     SpoolConfig
	windows map[Name]*window
	enc     Encoder
	table   *schema.Table
	name    Name
	stats   SpoolStats
	tag     *captureTag

	// What every row and frame would otherwise allocate again: the
	// tables by letter with their field counts, the chunks of flushed
	// rows, the frame compressors no frame in flight uses.
	tables       [256]*schema.Table
	counts       [256]int
	chunks       chunkPool
	frameWriters []*frameWriter
	// Frames in flight on writers (spool_frames.go): how many, their
	// reports, the failures taken but not yet returned.
	inflight int
	reports  chan *frameJob
	failed   []error
	// recent is the window each table's last row went to: rows come in
	// runs of the same window, and the map's key hashes a string.
	recent [256]*window
	// rows counts the rows of each table letter (Stats makes the map):
	// a map increment per row cost as much as the row's id.
	rows [256]uint64
	win  windowCache // of the times of the rows begun or batched
}

type window struct {
	name    Name
	f       fileutil.File
	size    int64 // bytes of complete frames in the file
	seq     uint64
	index   uint64 // name.WindowIndex(), the high bits of every id
	pending rowBuf
	rows    int
	// Frames in flight (spool_frames.go): the last taken, how many,
	// their rows and bytes; the frames that failed, until their rows
	// are back; how many frames were taken.
	last              *frameJob
	jobs              int
	jobRows, jobBytes int
	failed            []*frameJob
	frameSeq          uint64
	firstID           uint64
	backfill          bool // a backfill marker is owed for this window
	closing           bool // ended: published once its frames are written (Advance)

	// capture tag (see Tag): the slot whose rows the window last took,
	// and how many of them it took.
	tagSlot uint64
	tagSeq  uint64
	slotMax map[uint64]uint64 // highest id of each capture slot in the file when opened
}

// NewSpool returns a Spool after sealing the .part files a previous run
// left behind: each torn tail is cut at its last complete row, a backfill
// marker makes loader load whatever was not loaded, and the file is
// published.
func NewSpool(cfg SpoolConfig) (*Spool, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Spool{cfg: cfg, windows: make(map[Name]*window), reports: make(chan *frameJob, cfg.Writers)}
	s.chunks.max = maxFreeBytes(cfg.MaxFrameBytes) / chunkSize
	for _, t := range schema.LogTables() {
		s.tables[t.Letter], s.counts[t.Letter] = t, t.FieldCount()
	}
	if err := s.sealParts(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Spool) sealParts() error {
	dir := dataroot.Root(s.cfg.Root).SyncGateway(s.cfg.Gateway)
	parts, err := filepath.Glob(filepath.Join(dir, "*", "*"+PartExt))
	if err != nil {
		return err
	}
	for _, p := range parts {
		n, err := ParseName(filepath.Base(p), time.Local)
		if err != nil {
			s.cfg.Logger.Warn("ignoring a file that is not a sync_file", "path", p, "err", err)
			continue
		}
		w, err := s.open(n)
		if err != nil {
			return fmt.Errorf("seal %s: %w", p, err)
		}
		if err := s.close(w); err != nil {
			return fmt.Errorf("seal %s: %w", p, err)
		}
		s.stats.Recovered++
	}
	return nil
}

// Begin starts a row of the log table letter for an event at ts; add the
// fields after id and ts to the returned Encoder, then call Commit.
func (s *Spool) Begin(letter byte, ts time.Time) *Encoder {
	s.table = s.tables[letter]
	s.name = Name{Window: s.win.of(ts), Gateway: s.cfg.Gateway, Table: letter}
	s.enc.Reset()
	s.enc.Time(ts)
	return &s.enc
}

// Commit adds the row begun by Begin, giving it its id. Its error is a
// *KeptError when the row was taken but the frame it completed could not
// be written; Refused tells the two apart.
func (s *Spool) Commit() error {
	t := s.table
	if t == nil {
		return fmt.Errorf("commit: unknown table %q", s.name.Table)
	}
	s.table = nil
	return s.commit(t, s.name, s.enc.Bytes(), s.enc.Fields())
}

// commit adds row, fields fields after the id, to the window n of table t.
func (s *Spool) commit(t *schema.Table, n Name, row []byte, fields int) error {
	if got := fields + 1; got != s.counts[t.Letter] {
		return fmt.Errorf("commit %c row: %d fields, table %s has %d", t.Letter, got, t.Name, s.counts[t.Letter])
	}
	w := s.recent[t.Letter]
	if w == nil || w.name != n {
		w = s.windows[n]
	}
	if w == nil {
		var err error
		if w, err = s.open(n); err != nil {
			return err
		}
	}
	s.recent[t.Letter] = w
	if _, held := w.held(); held >= s.MaxHeldPerWindow() {
		// The disk has refused several frames: holding more would only
		// exhaust memory. The loss is counted and reported, never silent.
		// The frames in flight count: with writers, each flush takes
		// the rows of the failed frames back into a frame of its own.
		s.stats.Dropped++
		return fmt.Errorf("%w: %s holds %d MB unwritten", ErrDropped, w.name, held>>20)
	}
	id, err := s.nextID(w)
	if err != nil {
		s.stats.Dropped++
		return err
	}
	if w.rows == 0 {
		w.firstID = id
	}
	w.pending.add(&s.chunks, id, row)
	w.rows++
	s.rows[t.Letter]++
	if w.pending.size >= s.cfg.MaxFrameBytes {
		if err := s.flush(w); err != nil {
			return &KeptError{Err: err}
		}
	}
	return nil
}

// KeptError is the error of a commit that took its row but could not
// write the frame the row completed (a full disk): the row is held with
// the window's others and written by a later flush. The row is not
// refused (see Refused); the failure is counted in SpoolStats.WriteErrors.
type KeptError struct{ Err error }

func (e *KeptError) Error() string { return "row kept, its frame not written: " + e.Err.Error() }
func (e *KeptError) Unwrap() error { return e.Err }

// Refused reports whether err, from Commit or for a row of CommitBatch,
// means the row was not taken.
func Refused(err error) bool {
	var kept *KeptError
	return err != nil && !errors.As(err, &kept)
}

// Stats returns a copy of the counters.
func (s *Spool) Stats() SpoolStats {
	st := s.stats
	st.Rows = make(map[byte]uint64)
	for k, v := range s.rows {
		if v > 0 {
			st.Rows[byte(k)] = v
		}
	}
	st.OpenWindows = len(s.windows)
	st.HeldRows, st.HeldBytes = s.Held()
	return st
}
