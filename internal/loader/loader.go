// Package loader moves rows from files into the day tables: on a branch
// appliance the load_files aclog publishes every few seconds (deleted once
// their rows are in), at head office the sync_files datasync receives (kept,
// and remembered in a ledger). Each batch is one LOAD DATA LOCAL statement
// streamed from the files, so a backlog of small files costs few
// statements. A damaged table is repaired, and rebuilt from the sync_files
// when repair is not enough.
package loader

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acstore/acstore/internal/backoff"
	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/ledger"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
)

// Config configures a Loader.
type Config struct {
	Root          string
	Keep          bool // head office: load sync_files, never delete them
	KeepDays      int  // retention; 0 keeps everything
	Disk          retention.Watermarks
	Interval      time.Duration
	MaxBatchFiles int
	MaxBatchBytes int64
	// Limits bound the memory reading one file may take, whatever the
	// file claims (xz dictionary, row length); zero: logfile's defaults.
	Limits logfile.Limits
	// Gateways picks the gateways a pass loads; nil: all. Head office uses
	// it to let a failing gateway back off alone.
	Gateways func(gw string) bool
	Logger   *slog.Logger
	// Shards, at a head office past one server, routes each gateway's
	// rows to its shard (package shard); nil: everything goes to the db
	// given to New.
	Shards *shard.Set
	// Front, when set, is told after each pass that made new tables, and
	// when retention drops a day, so the Spider front's tables follow.
	Front Front
}

// Front is what loader needs of the Spider front (package spider).
type Front interface {
	Sync(ctx context.Context) error
	DropDay(ctx context.Context, day string) error
}

// RegisterFlags adds loader's own flags to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Keep, "keep", false, "head-office mode: load the sync_files under -data/sync and never delete them; a ledger remembers what was loaded")
	fs.IntVar(&c.KeepDays, "keep-days", 0, "drop day tables and delete sync_files older than this many days, but never a day datasync push has not shipped yet; 0 keeps everything")
	c.Disk.RegisterFlags(fs)
	fs.DurationVar(&c.Interval, "interval", 5*time.Second, "how often to look for files to load")
	fs.IntVar(&c.MaxBatchFiles, "batch-files", 256, "most files loaded by one LOAD DATA statement")
	fs.Int64Var(&c.MaxBatchBytes, "batch-bytes", 256<<20, "most bytes (on disk) loaded by one LOAD DATA statement")
}

// Validate checks the settings.
func (c *Config) Validate() error {
	if c.Root == "" {
		return errors.New("no -data directory")
	}
	if c.KeepDays < 0 {
		return errors.New("-keep-days must be 0 or more")
	}
	if err := c.Disk.Validate(); err != nil {
		return err
	}
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.MaxBatchFiles <= 0 {
		c.MaxBatchFiles = 256
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 256 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Stats are the loader's counters since it started.
type Stats struct {
	Files, Rows, Batches, Repairs, Rebuilds, Failures, Rejected atomic.Uint64
	Backlog                                                     atomic.Int64
	LastSuccess                                                 atomic.Int64 // unix seconds
}

// Loader loads files into day tables.
type Loader struct {
	cfg     Config
	set     *shard.Set
	ledger  *ledger.Ledger
	mu      sync.Mutex      // guards created, checked and the ledger: shards load in parallel
	created map[string]bool // shard/table
	checked map[string]bool // shards whose tables CheckTables saw at their first pass
	// frontDue: tables were made since the Spider front last caught up.
	frontDue atomic.Bool
	// quietDirs are day directories (head office) in which the last scan
	// found nothing to load, with their modification time then.
	quietDirs map[string]time.Time
	prune     *retention.Pruner
	stats     Stats
}

// New returns a Loader. In keep mode it opens the ledger under
// <root>/state/loaded.
func New(cfg Config, db *sql.DB) (*Loader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set := cfg.Shards
	if set == nil {
		set = shard.Of(db)
	}
	l := &Loader{
		cfg:       cfg,
		set:       set,
		created:   make(map[string]bool),
		checked:   make(map[string]bool),
		quietDirs: make(map[string]time.Time),
	}
	l.prune = retention.New(retention.Config{Root: cfg.Root, KeepDays: cfg.KeepDays, Marks: cfg.Disk,
		Store: store{l}, Logger: cfg.Logger})
	if cfg.Keep {
		var err error
		if l.ledger, err = ledger.Open(filepath.Join(cfg.Root, "state", "loaded")); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Close releases the ledger.
func (l *Loader) Close() error {
	if l.ledger != nil {
		return l.ledger.Close()
	}
	return nil
}

// Stats returns the loader's counters.
func (l *Loader) Stats() *Stats { return &l.stats }

// Register adds the loader's metrics to reg.
func (l *Loader) Register(reg prometheus.Registerer) {
	const sub = "loader"
	reg.MustRegister(
		daemon.Counter(sub, "files_total", "Files loaded.", &l.stats.Files),
		daemon.Counter(sub, "rows_total", "Rows inserted (duplicates skipped are not counted).", &l.stats.Rows),
		daemon.Counter(sub, "batches_total", "LOAD DATA statements that succeeded.", &l.stats.Batches),
		daemon.Counter(sub, "repairs_total", "REPAIR TABLE runs on damaged tables.", &l.stats.Repairs),
		daemon.Counter(sub, "rebuilds_total", "Tables rebuilt from sync_files.", &l.stats.Rebuilds),
		daemon.Counter(sub, "failures_total", "Batches that failed and will be retried.", &l.stats.Failures),
		daemon.Counter(sub, "rejected_total", "Files set aside as unloadable.", &l.stats.Rejected),
		daemon.Gauge(sub, "backlog_files", "Files waiting at the last scan.", func() float64 { return float64(l.stats.Backlog.Load()) }),
		daemon.Gauge(sub, "last_success_seconds", "Unix time of the last pass that loaded everything pending.", func() float64 { return float64(l.stats.LastSuccess.Load()) }),
	)
	l.prune.Register(reg, sub)
}

// Pruner returns the loader's retention, for its counters.
func (l *Loader) Pruner() *retention.Pruner { return l.prune }

// pending is one file to load and what to do once its rows are in.
type pending struct {
	path  string
	codec logfile.Codec
	size  int64
	done  func() error
}

// batch is files of one gateway for one day table.
type batch struct {
	table *schema.Table
	name  string // day table
	gw    string
	files []pending
	bytes int64
}

// Run loads every Interval until ctx ends, waiting with backoff while the
// database is away.
func (l *Loader) Run(ctx context.Context) error {
	backoff.Loop(ctx, l.cfg.Interval, time.Minute, func(ctx context.Context) error {
		// In the loop, not beside it: the ledger is the loader's alone.
		if err := l.prune.Tick(ctx, time.Now()); err != nil && ctx.Err() == nil {
			l.cfg.Logger.Error("retention", "err", err)
		}
		res, err := l.RunOnce(ctx)
		var de *shard.DownError
		if errors.As(err, &de) && de.Partial() {
			// The other shards loaded: keep their pace, retry these next pass.
			l.cfg.Logger.Warn("shard(s) unavailable; their gateways' files stay pending", "shards", de.Shards, "err", de.Err)
			return nil
		}
		if err != nil && res.Files > 0 && ctx.Err() == nil {
			// The pass loaded files before the server went away: the
			// server is new news, so the backoff starts again from its
			// shortest wait rather than growing over a long backlog.
			l.cfg.Logger.Warn("database lost in the middle of a pass; the rest stays pending", "loaded", res.Files, "err", err)
			return nil
		}
		return err
	}, func(err error, wait time.Duration) {
		l.cfg.Logger.Warn("database unavailable; files stay and will be loaded later", "err", err, "retry_in", wait.Round(time.Millisecond))
	})
	return nil
}

// Result sums up one pass.
type Result struct {
	Files, Batches int
	Rows           int64
	// Failed holds, per gateway, the first error of a batch that failed
	// (it is retried at the next pass).
	Failed map[string]error
}

// interleave orders batches round-robin over their gateways (keeping each
// gateway's own order), so that a gateway with a big backlog does not make
// every other one wait for all of it.
func interleave(batches []*batch) []*batch {
	var order []string
	by := make(map[string][]*batch)
	for _, b := range batches {
		if by[b.gw] == nil {
			order = append(order, b.gw)
		}
		by[b.gw] = append(by[b.gw], b)
	}
	if len(order) < 2 {
		return batches
	}
	out := make([]*batch, 0, len(batches))
	for i := 0; len(out) < len(batches); i++ {
		for _, gw := range order {
			if i < len(by[gw]) {
				out = append(out, by[gw][i])
			}
		}
	}
	return out
}

// scanLoad collects the load_files and backfill markers, in name order.
func (l *Loader) scanLoad() ([]*batch, error) {
	dir := logfile.LoadDir(l.cfg.Root)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	g := newGrouper(l.cfg)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, logfile.LoadExt):
			ln, err := logfile.ParseLoadName(name, time.Local)
			if err != nil {
				l.reject(path, err)
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			g.add(ln.Sync, pending{path: path, codec: logfile.Plain, size: info.Size(), done: removeFunc(path)})
		case strings.HasSuffix(name, logfile.BackfillExt):
			n, err := logfile.ParseName(strings.TrimSuffix(name, logfile.BackfillExt), time.Local)
			if err != nil {
				l.reject(path, err)
				continue
			}
			sync := n.Path(l.cfg.Root)
			info, err := os.Stat(sync)
			if err != nil {
				if _, perr := os.Stat(sync + ".part"); perr == nil {
					continue // its window is still open: load it once published
				}
				l.cfg.Logger.Warn("backfill marker without its sync_file (deleted by retention?)", "marker", name)
				os.Remove(path)
				continue
			}
			g.add(n, pending{path: sync, codec: logfile.LZ4, size: info.Size(), done: removeFunc(path)})
		}
	}
	return g.batches, nil
}

// scanSync collects the published sync_files not yet in the ledger. At
// head office the tree holds every gateway's every day, so a day directory
// whose modification time has not changed since a scan found nothing new
// in it is not read again: publishing a file renames it into its
// directory, which changes that time.
func (l *Loader) scanSync() ([]*batch, error) {
	type file struct {
		path string
		n    logfile.Name
		size int64
	}
	var files []file
	dirs, err := filepath.Glob(filepath.Join(l.cfg.Root, "sync", "*", "[0-9]*"))
	if err != nil {
		return nil, err
	}
	for _, dir := range dirs {
		info, err := os.Stat(dir)
		if err != nil || !info.IsDir() {
			continue
		}
		if seen, ok := l.quietDirs[dir]; ok && seen.Equal(info.ModTime()) {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		before := len(files)
		for _, e := range entries {
			n, err := logfile.ParseName(e.Name(), time.Local)
			if err != nil || !strings.HasSuffix(e.Name(), logfile.SyncExt) || n.Table == schema.Attachments {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if !l.ledger.Has(n.String(), fi.Size()) {
				files = append(files, file{filepath.Join(dir, e.Name()), n, fi.Size()})
			}
		}
		if len(files) == before {
			l.quietDirs[dir] = info.ModTime()
		} else {
			delete(l.quietDirs, dir)
		}
	}
	// Time order, then shipping order within a window.
	sort.Slice(files, func(i, j int) bool { return files[i].n.String() < files[j].n.String() })
	g := newGrouper(l.cfg)
	for _, f := range files {
		g.add(f.n, pending{path: f.path, codec: logfile.LZ4, size: f.size, done: func() error {
			return l.ledger.Append(f.n.Day(), f.n.String(), f.size)
		}})
	}
	return g.batches, nil
}

func removeFunc(path string) func() error {
	return func() error {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
}

// grouper puts files into batches per gateway and day table, keeping name
// order within each and the limits of one statement.
type grouper struct {
	cfg     Config
	open    map[string]*batch
	batches []*batch
}

func newGrouper(cfg Config) *grouper { return &grouper{cfg: cfg, open: make(map[string]*batch)} }

func (g *grouper) add(n logfile.Name, p pending) {
	key := n.Gateway + "/" + n.DayTable()
	b := g.open[key]
	if b == nil || len(b.files) >= g.cfg.MaxBatchFiles || b.bytes+p.size > g.cfg.MaxBatchBytes && len(b.files) > 0 {
		t, _ := schema.ByLetter(n.Table)
		b = &batch{table: t, name: n.DayTable(), gw: n.Gateway}
		g.open[key] = b
		g.batches = append(g.batches, b)
	}
	b.files = append(b.files, p)
	b.bytes += p.size
}

// reject moves a file that can never be loaded out of the way, so it is
// reported once instead of at every pass.
func (l *Loader) reject(path string, cause error) {
	dir := filepath.Join(logfile.LoadDir(l.cfg.Root), ".rejected")
	l.stats.Rejected.Add(1)
	l.cfg.Logger.Error("setting aside a file that cannot be loaded", "file", path, "moved_to", dir, "err", cause)
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = os.Rename(path, filepath.Join(dir, filepath.Base(path)))
		if err == nil {
			return
		}
		l.cfg.Logger.Error("could not set the file aside", "file", path, "err", err)
	}
}

// setAside gives up on a file that cannot be read at all: a load_file is
// moved aside, a sync_file is marked done (recover -check will report its
// table) so it is not retried forever.
func (l *Loader) setAside(p pending, cause error) {
	if p.codec == logfile.Plain {
		l.reject(p.path, cause)
		return
	}
	l.stats.Rejected.Add(1)
	l.cfg.Logger.Error("sync_file is unreadable; skipping it", "file", p.path, "err", cause)
	l.mu.Lock()
	defer l.mu.Unlock()
	err := p.done()
	if err == nil && l.ledger != nil {
		err = l.ledger.Sync()
	}
	if err != nil {
		l.cfg.Logger.Warn("could not mark the file done", "file", p.path, "err", err)
	}
}

// loadBatch loads one batch, repairing or rebuilding a damaged table, then
// marks its files done.
func (l *Loader) loadBatch(ctx context.Context, tg *target, b *batch) (int64, error) {
	n, err := l.loadStatement(ctx, tg, b)
	if err != nil && mariadb.IsDamaged(err) {
		n, err = l.recoverTable(ctx, tg, b, err)
	}
	if err != nil {
		if mariadb.IsUnavailable(err) || ctx.Err() != nil {
			return 0, err
		}
		l.stats.Failures.Add(1)
		if len(b.files) > 1 {
			// One bad file must not hold back the others: load one by one.
			return l.loadOneByOne(ctx, tg, b, err)
		}
		var ce *logfile.CorruptionError
		if errors.As(err, &ce) {
			l.setAside(b.files[0], err)
			return 0, err
		}
		l.cfg.Logger.Error("load failed; will retry", "table", b.name, "gw", b.gw, "file", b.files[0].path, "err", err)
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range b.files {
		if err := p.done(); err != nil {
			// Loading again is harmless (IGNORE), so this only costs time.
			l.cfg.Logger.Warn("loaded, but could not mark the file done; it will be loaded again", "file", p.path, "err", err)
		}
	}
	if l.cfg.Keep {
		// One fsync for the batch's ledger entries.
		if err := l.ledger.Sync(); err != nil {
			l.cfg.Logger.Warn("loaded, but the ledger could not be synced; the files may be loaded again", "err", err)
		}
	} else if err := logfile.SyncDir(logfile.LoadDir(l.cfg.Root)); err != nil {
		l.cfg.Logger.Warn("fsync load dir", "err", err)
	}
	l.stats.Files.Add(uint64(len(b.files)))
	l.stats.Rows.Add(uint64(n))
	l.stats.Batches.Add(1)
	l.cfg.Logger.Debug("loaded", "table", b.name, "gw", b.gw, "files", len(b.files), "rows", n)
	return n, nil
}

func (l *Loader) loadOneByOne(ctx context.Context, tg *target, b *batch, cause error) (int64, error) {
	l.cfg.Logger.Warn("batch failed; loading its files one by one", "table", b.name, "files", len(b.files), "err", cause)
	var total int64
	var errs []error
	for _, p := range b.files {
		one := &batch{table: b.table, name: b.name, gw: b.gw, files: []pending{p}, bytes: p.size}
		n, err := l.loadBatch(ctx, tg, one)
		if err != nil {
			if mariadb.IsUnavailable(err) || ctx.Err() != nil {
				return total, err
			}
			errs = append(errs, err)
		}
		total += n
	}
	return total, errors.Join(errs...)
}

// recoverTable repairs a damaged table and loads the batch again.
func (l *Loader) recoverTable(ctx context.Context, tg *target, b *batch, cause error) (int64, error) {
	if err := l.repairAndRebuild(ctx, tg, b.table, b.name, cause); err != nil {
		return 0, err
	}
	return l.loadStatement(ctx, tg, b)
}

// repairAndRebuild follows seed 001: REPAIR TABLE, then recover. REPAIR
// makes the table usable at once, but MyISAM's repair drops the rows it
// cannot read, so the table is then always rebuilt from the sync_files,
// which hold every row: nothing is lost.
func (l *Loader) repairAndRebuild(ctx context.Context, tg *target, t *schema.Table, name string, cause error) error {
	l.cfg.Logger.Warn("table is damaged; repairing, then rebuilding from sync_files", "table", name, "shard", tg.name, "err", cause)
	l.stats.Repairs.Add(1)
	if err := mariadb.Repair(ctx, tg.db, name); err != nil {
		l.cfg.Logger.Warn("REPAIR TABLE failed; the rebuild replaces the table", "table", name, "err", err)
	}
	l.stats.Rebuilds.Add(1)
	_, err := tg.rebuild.Table(ctx, t.Letter, name[1:])
	return err
}

// CheckTables runs CHECK TABLE on the day tables of the given days
// (YYYYMMDD) and repairs and rebuilds those found damaged. Loader does it
// at its first pass: damage comes with crashes, and a damaged table that
// is only appended to would not show it.
func (l *Loader) CheckTables(ctx context.Context, days ...string) error {
	var errs []error
	for _, name := range l.set.Map.Names() {
		tg, err := l.target(ctx, name)
		if err == nil {
			err = l.checkTables(ctx, tg, days...)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (l *Loader) checkTables(ctx context.Context, tg *target, days ...string) error {
	tables, err := mariadb.Tables(ctx, tg.db)
	if err != nil {
		return err
	}
	for _, name := range tables {
		t, day, err := schema.ParseDayTable(name, time.Local)
		if err != nil || !slices.Contains(days, day.Format(schema.DayLayout)) {
			continue
		}
		cerr := mariadb.Check(ctx, tg.db, name)
		if cerr == nil {
			continue
		}
		if mariadb.IsUnavailable(cerr) {
			return cerr
		}
		if err := l.repairAndRebuild(ctx, tg, t, name, cerr); err != nil {
			l.cfg.Logger.Error("damaged table could not be rebuilt", "table", name, "err", err)
		}
	}
	return nil
}

// loadStatement streams the batch's files through one LOAD DATA statement,
// holding the table's lock so a rebuild cannot swap the table meanwhile.
func (l *Loader) loadStatement(ctx context.Context, tg *target, b *batch) (int64, error) {
	conn, err := tg.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := mariadb.Lock(ctx, conn, b.name, 10*time.Minute); err != nil {
		return 0, err
	}
	defer mariadb.Unlock(context.WithoutCancel(ctx), conn, b.name)
	key := tg.name + "/" + b.name
	if !l.isCreated(key) {
		// A table an older loader created gets the current columns
		// before rows with them arrive (schema.Layout).
		upgraded, err := mariadb.EnsureTable(ctx, conn, b.table, b.name)
		if err != nil {
			return 0, err
		}
		if upgraded {
			l.cfg.Logger.Info("day table upgraded to the current columns", "table", b.name)
		}
		l.setCreated(key, true)
	}
	r := &filesReader{files: b.files, log: l.cfg.Logger, lim: l.cfg.Limits}
	defer r.Close()
	n, err := mariadb.Load(ctx, conn, b.name, b.table.FileColumns(), b.gw, logfile.Upgrade(b.table, r))
	if err == nil && r.err != nil {
		err = r.err
	}
	if err != nil {
		if mariadb.IsNoSuchTable(err) {
			l.setCreated(key, false) // dropped behind our back: create it again next time
		}
		return n, fmt.Errorf("load %d file(s) into %s: %w", len(b.files), b.name, err)
	}
	return n, nil
}

// Retention removes, once, the days older than KeepDays that datasync has
// shipped (all of them when push does not run on this root), then brings
// the disk under its watermarks; see package retention.
func (l *Loader) Retention(ctx context.Context, now time.Time) error {
	return errors.Join(l.prune.Age(ctx, now), l.prune.Disk(ctx, now))
}
