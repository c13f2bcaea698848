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
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acstore/acstore/internal/bytesize"
	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/ledger"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/retention"
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
	MaxBatchBytes bytesize.Size
	// MaxStatementBytes bounds the rows (uncompressed) one LOAD DATA
	// statement streams: a bigger file is loaded by several, so that it
	// holds a day table (one writer at a time, MyISAM) no longer than
	// that while other gateways' loads wait for it.
	MaxStatementBytes bytesize.Size
	// Limits bound the memory reading one file may take, whatever the
	// file claims (xz dictionary, row length); zero: logfile's defaults.
	Limits logfile.Limits
	// Gateways picks the gateways a pass loads; nil: all. Head office uses
	// it to let a failing gateway back off alone.
	Gateways func(gw string) bool
	Logger   *slog.Logger
	// ShardPatience is how long RunPass (and so Run) waits for a shard
	// before it goes on without it; zero: 30 s.
	ShardPatience time.Duration
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
	c.MaxBatchBytes = 256 << 20
	fs.Var(&c.MaxBatchBytes, "batch-bytes", "most bytes (on disk) loaded by one LOAD DATA statement")
	c.MaxStatementBytes = DefaultStatementBytes
	fs.Var(&c.MaxStatementBytes, "statement-bytes", "most bytes of rows (uncompressed) one LOAD DATA statement streams; a bigger file is loaded by several, so it holds its day table no longer than that")
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
	if c.ShardPatience <= 0 {
		c.ShardPatience = 30 * time.Second
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
	if c.MaxStatementBytes <= 0 {
		c.MaxStatementBytes = DefaultStatementBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// DefaultStatementBytes is MaxStatementBytes when not set: about a second
// of LOAD DATA (BENCH.md: 291 MB of rows in about 10 s).
const DefaultStatementBytes = 32 << 20

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
	mu      sync.Mutex      // guards the maps: shards and gateways load in parallel
	created map[string]bool // shard/table
	checked map[string]bool // shards whose tables CheckTables saw at their first pass
	// left counts, per shard, the goroutines a run stopped waiting for
	// (RunPass), still loading since leftAt; inflight is every shard
	// goroutine, which Close waits for.
	left     map[string]int
	leftAt   map[string]time.Time
	inflight sync.WaitGroup
	// runMu: RunGateway calls share it, RunOnce takes it alone.
	runMu    sync.RWMutex
	gateways map[string]*sync.Mutex   // one RunGateway of a gateway at a time
	days     map[string]*sync.RWMutex // see dayMu
	checkMu  sync.Mutex               // one shard check at a time
	frontMu  sync.Mutex               // one front sync at a time
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
		left:      make(map[string]int),
		leftAt:    make(map[string]time.Time),
		gateways:  make(map[string]*sync.Mutex),
		days:      make(map[string]*sync.RWMutex),
		quietDirs: make(map[string]time.Time),
	}
	l.prune = retention.New(retention.Config{Root: cfg.Root, KeepDays: cfg.KeepDays, Marks: cfg.Disk,
		Store: store{l}, Logger: cfg.Logger})
	if cfg.Keep {
		var err error
		if l.ledger, err = ledger.Open(dataroot.Root(cfg.Root).State("loaded")); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Close releases the ledger.
func (l *Loader) Close() error {
	l.inflight.Wait() // shards left loading end with the context they were given
	if l.ledger != nil {
		return l.ledger.Close()
	}
	return nil
}

// Stats returns the loader's counters.
func (l *Loader) Stats() *Stats { return &l.stats }

// StatsLine is loader's part of the 10-second stats line: its counters,
// the disk's use and the days retention holds back.
func (l *Loader) StatsLine() []any {
	s, r := &l.stats, l.prune.Stats()
	return []any{
		slog.Uint64("files", s.Files.Load()), slog.Uint64("rows", s.Rows.Load()),
		slog.Int64("backlog", s.Backlog.Load()), slog.Uint64("statements", s.Batches.Load()),
		slog.Uint64("repairs", s.Repairs.Load()), slog.Uint64("rebuilds", s.Rebuilds.Load()),
		slog.Uint64("failures", s.Failures.Load()), slog.Uint64("rejected", s.Rejected.Load()),
		slog.Float64("disk_used", float64(r.UsedPermille.Load())/10), slog.Int64("held_days", r.Held.Load()),
	}
}

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

// Retention removes, once, the days older than KeepDays that datasync has
// shipped (all of them when push does not run on this root), then brings
// the disk under its watermarks; see package retention.
func (l *Loader) Retention(ctx context.Context, now time.Time) error {
	return errors.Join(l.prune.Age(ctx, now), l.prune.Disk(ctx, now))
}
