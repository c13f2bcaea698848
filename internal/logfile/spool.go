package logfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/schema"
)

// SpoolConfig configures a Spool.
type SpoolConfig struct {
	Root    string // data root
	Gateway string // 8 hex digits
	Codec   Codec  // of the sync_files
	// HighPerformance writes sync_files only: no load_files, the local
	// database stays empty and everything goes to head office.
	HighPerformance bool
	// MaxLoadBacklog is how many load_files may wait for loader before the
	// spool stops writing them. Sync_files go on; a backfill marker asks
	// loader to load the whole sync_file instead, so nothing is lost.
	MaxLoadBacklog int
	// MaxFrameBytes flushes a window early when its pending rows reach this
	// size; it bounds memory and the loss of a torn frame.
	MaxFrameBytes int
	// Grace is how long after its end a window stays open for late rows.
	Grace  time.Duration
	Logger *slog.Logger
	// FS is the file layer the spool writes through (fileutil.OS if nil;
	// a fileutil.CutFS in power-cut tests).
	FS fileutil.FS
}

func (c *SpoolConfig) defaults() error {
	if !ValidGateway(c.Gateway) {
		return fmt.Errorf("gateway %q is not 8 hex digits (e.g. 5F86F7A5)", c.Gateway)
	}
	if c.Root == "" {
		return errors.New("no data root")
	}
	if c.MaxLoadBacklog <= 0 {
		c.MaxLoadBacklog = 2000
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 4 << 20
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FS == nil {
		c.FS = fileutil.OS
	}
	return nil
}

// SpoolStats counts what a Spool has done.
type SpoolStats struct {
	Rows        map[byte]uint64 // rows per table letter
	Frames      uint64          // frames appended to sync_files
	LoadFiles   uint64          // load_files published
	Backfills   uint64          // backfill markers written
	Published   uint64          // sync_files published
	Recovered   uint64          // .part files found at start and sealed
	Dropped     uint64          // rows refused because a sync_file could not be written
	WriteErrors uint64          // appends to a sync_file that failed (rows kept in memory)
	HeldRows    int             // rows in memory, not yet in a sync_file
	HeldBytes   int             // their bytes
	OpenWindows int
	LoadPaused  bool // load_files are paused because loader is behind
}

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
	// rows, one frame compressor.
	tables [256]*schema.Table
	counts [256]int
	chunks chunkPool
	frames frameWriter
	// recent is the window each table's last row went to: rows come in
	// runs of the same window, and the map's key hashes a string.
	recent [256]*window
}

type window struct {
	name     Name
	f        fileutil.File
	size     int64 // bytes of complete frames in the file
	seq      uint64
	pending  rowBuf
	rows     int
	firstID  uint64
	backfill bool // a backfill marker is owed for this window

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
	s := &Spool{cfg: cfg, windows: make(map[Name]*window), stats: SpoolStats{Rows: make(map[byte]uint64)}}
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
	s.name = Name{Window: WindowStart(ts), Gateway: s.cfg.Gateway, Table: letter}
	s.enc.Reset()
	s.enc.Time(ts)
	return &s.enc
}

// Commit adds the row begun by Begin, giving it its id.
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
	if w.pending.size >= maxPendingFrames*s.cfg.MaxFrameBytes {
		// The disk has refused several frames: holding more would only
		// exhaust memory. The loss is counted and reported, never silent.
		s.stats.Dropped++
		return fmt.Errorf("%w: %s holds %d MB unwritten", ErrDropped, w.name, w.pending.size>>20)
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
	s.stats.Rows[t.Letter]++
	if w.pending.size >= s.cfg.MaxFrameBytes {
		return s.flush(w)
	}
	return nil
}

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
	w := &window{name: n}
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

// undoFrame cuts a half-written frame off the sync_file (a full disk, say),
// so that the frames appended later stay readable. The rows stay pending.
func (s *Spool) undoFrame(w *window, cause error) error {
	s.stats.WriteErrors++
	if err := w.f.Truncate(w.size); err != nil {
		return fmt.Errorf("append to %s: %w; and cutting the partial frame failed: %v", w.f.Name(), cause, err)
	}
	return fmt.Errorf("append to %s (rows kept in memory, retried at the next flush): %w", w.f.Name(), cause)
}

// publishLoad writes the pending rows as a load_file; when loader is behind
// or the file cannot be written, a backfill is owed instead.
func (s *Spool) publishLoad(w *window) {
	dir := LoadDir(s.cfg.Root)
	if s.loadBacklog(dir) >= s.cfg.MaxLoadBacklog {
		if !s.stats.LoadPaused {
			s.cfg.Logger.Warn("loader is behind: pausing load_files, sync_files go on", "backlog_limit", s.cfg.MaxLoadBacklog)
		}
		s.stats.LoadPaused = true
		w.backfill = true
		return
	}
	if s.stats.LoadPaused {
		s.cfg.Logger.Info("loader caught up: load_files resume")
		s.stats.LoadPaused = false
	}
	ln := LoadName{Sync: w.name, FirstID: w.firstID}
	if err := s.writeLoad(filepath.Join(dir, ln.String()), filepath.Join(dir, ".tmp"), &w.pending); err != nil {
		s.cfg.Logger.Warn("load_file not written; loader will back-fill from the sync_file", "file", ln.String(), "err", err)
		w.backfill = true
		return
	}
	s.stats.LoadFiles++
}

// writeLoad publishes rows as the load_file path (fileutil.WriteFileFS,
// chunk by chunk).
func (s *Spool) writeLoad(path, tmpDir string, rows *rowBuf) error {
	f, err := fileutil.CreateFS(s.cfg.FS, path, tmpDir)
	if err != nil {
		return err
	}
	if err := rows.writeTo(f); err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Commit()
}

func (s *Spool) loadBacklog(dir string) int {
	f, err := os.Open(dir)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(1024)
		for _, name := range names {
			if name[0] != '.' { // .tmp and .rejected
				n++
			}
		}
		if err != nil || n >= s.cfg.MaxLoadBacklog {
			return n
		}
	}
}

func (s *Spool) writeBackfill(n Name) error {
	dir := LoadDir(s.cfg.Root)
	path := filepath.Join(dir, n.String()+BackfillExt)
	// The marker is empty: only its directory entry needs to be durable.
	if err := fileutil.MkdirAllFS(s.cfg.FS, dir); err != nil {
		return fmt.Errorf("backfill marker for %s: %w", n, err)
	}
	f, err := s.cfg.FS.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("backfill marker for %s: %w", n, err)
	}
	f.Close()
	if err := fileutil.SyncDirFS(s.cfg.FS, dir); err != nil {
		return fmt.Errorf("backfill marker for %s: %w", n, err)
	}
	s.stats.Backfills++
	return nil
}

// close flushes the window and publishes its sync_file under its final name.
func (s *Spool) close(w *window) error {
	if err := s.flush(w); err != nil {
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

// Flush appends every window's pending rows to its sync_file and publishes
// them as load_files. Call it every few seconds.
func (s *Spool) Flush() error {
	var errs []error
	for _, w := range s.openWindows() {
		if err := s.flush(w); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Advance publishes the sync_files of the windows that ended more than the
// grace period before now (packet time when reading captures).
func (s *Spool) Advance(now time.Time) error {
	var errs []error
	for _, w := range s.openWindows() {
		if !w.name.Window.Add(WindowLength + s.cfg.Grace).After(now) {
			if err := s.close(w); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close flushes and publishes every open window.
func (s *Spool) Close() error {
	var errs []error
	for _, w := range s.openWindows() {
		if err := s.close(w); err != nil {
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

// Stats returns a copy of the counters.
func (s *Spool) Stats() SpoolStats {
	st := s.stats
	st.Rows = make(map[byte]uint64, len(s.stats.Rows))
	for k, v := range s.stats.Rows {
		st.Rows[k] = v
	}
	st.OpenWindows = len(s.windows)
	st.HeldRows, st.HeldBytes = s.Held()
	return st
}

// WalkSync calls fn for every published sync_file (not .part) under the data
// root, in no particular order.
func WalkSync(root string, fn func(path string, n Name) error) error {
	dir := dataroot.Root(root).Sync()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == dir {
				return nil
			}
			return err
		}
		if d.IsDir() || filepath.Ext(path) != SyncExt {
			return nil
		}
		n, err := ParseName(d.Name(), time.Local)
		if err != nil {
			return nil // not ours
		}
		return fn(path, n)
	})
	return err
}
