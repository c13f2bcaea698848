package rollup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acstore/acstore/internal/backoff"
	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
)

// Stats are a Roller's counters since it started.
type Stats struct {
	Files     atomic.Uint64 // sync_files read (a cached one is not read again)
	Rows      atomic.Uint64 // source rows aggregated
	Blocks    atomic.Uint64 // blocks recomputed and replaced
	TableRows atomic.Uint64 // rollup rows written
	Failures  atomic.Uint64 // blocks that failed and stay pending
	BadRows   atomic.Uint64 // rows skipped: malformed, or ts outside their file's window
	Torn      atomic.Uint64 // sync_files with a torn or damaged tail
	Repairs   atomic.Uint64 // days recomputed because a rollup table was damaged
	Pending   atomic.Int64  // sync_files waiting at the last scan
	// LastSuccess is the unix time of the last pass that left nothing pending.
	LastSuccess atomic.Int64
}

// Result sums up one pass.
type Result struct {
	Blocks    int   // blocks replaced
	Files     int   // sync_files the blocks were computed from
	Rows      int64 // source rows aggregated
	TableRows int64 // rollup rows written
}

func (r *Result) add(o Result) {
	r.Blocks += o.Blocks
	r.Files += o.Files
	r.Rows += o.Rows
	r.TableRows += o.TableRows
}

// Roller keeps the rollup tables up to date with the sync_files. It is not
// safe for concurrent use; two Rollers (a daemon and a -rebuild) on the same
// database serialise on each table's advisory lock.
type Roller struct {
	cfg     Config
	set     *shard.Set
	state   *state
	plans   map[byte]*plan
	created map[string]bool
	cache   map[fileKey]*cached
	checked bool // checkDays ran since the server was last seen lost
	stats   Stats
	prune   *retention.Pruner
	lastAge time.Time
}

// New returns a Roller; it reads the record of rolled-up files under
// cfg.StateDir.
func New(cfg Config, db *sql.DB) (*Roller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set := cfg.Shards
	if set == nil {
		set = shard.Of(db)
	}
	r := &Roller{cfg: cfg, set: set, plans: make(map[byte]*plan), created: make(map[string]bool), cache: make(map[fileKey]*cached)}
	for _, s := range sources {
		p, err := newPlan(s)
		if err != nil {
			return nil, err
		}
		r.plans[s.Letter] = p
	}
	var err error
	if r.state, err = openState(cfg.StateDir); err != nil {
		return nil, err
	}
	stores := retention.Stores{r}
	if cfg.DayTables != nil {
		stores = retention.Stores{cfg.DayTables, r}
	}
	r.prune = retention.New(retention.Config{Root: cfg.Root, Marks: cfg.Disk, Store: stores, Logger: cfg.Logger})
	return r, nil
}

// Close releases what the Roller holds; it holds no open files between
// passes, so it only exists for symmetry with loader.
func (r *Roller) Close() error { return nil }

// Stats returns the counters.
func (r *Roller) Stats() *Stats { return &r.stats }

// StatsLine is midtable's 10-second stats line.
func (r *Roller) StatsLine() []any {
	s := &r.stats
	return []any{
		slog.Uint64("files", s.Files.Load()), slog.Uint64("rows", s.Rows.Load()),
		slog.Uint64("blocks", s.Blocks.Load()), slog.Uint64("rollup_rows", s.TableRows.Load()),
		slog.Int64("pending", s.Pending.Load()), slog.Uint64("failures", s.Failures.Load()),
		slog.Uint64("bad_rows", s.BadRows.Load()), slog.Uint64("torn", s.Torn.Load()),
	}
}

// Register adds the Roller's metrics to reg.
func (r *Roller) Register(reg prometheus.Registerer) {
	const sub = "midtable"
	reg.MustRegister(
		daemon.Counter(sub, "files_read_total", "Sync_files read and aggregated.", &r.stats.Files),
		daemon.Counter(sub, "rows_total", "Source rows aggregated.", &r.stats.Rows),
		daemon.Counter(sub, "blocks_total", "4-hour blocks recomputed and replaced.", &r.stats.Blocks),
		daemon.Counter(sub, "table_rows_total", "Rollup rows written.", &r.stats.TableRows),
		daemon.Counter(sub, "failures_total", "Blocks that failed and will be retried.", &r.stats.Failures),
		daemon.Counter(sub, "bad_rows_total", "Rows skipped as malformed or outside their window.", &r.stats.BadRows),
		daemon.Counter(sub, "torn_files_total", "Sync_files read only up to a torn or damaged tail.", &r.stats.Torn),
		daemon.Counter(sub, "repairs_total", "Days recomputed because a rollup table was found damaged.", &r.stats.Repairs),
		daemon.Gauge(sub, "pending_files", "Sync_files not yet rolled up at the last scan.", func() float64 { return float64(r.stats.Pending.Load()) }),
		daemon.Gauge(sub, "last_success_seconds", "Unix time of the last pass that left nothing pending.", func() float64 { return float64(r.stats.LastSuccess.Load()) }),
	)
	r.prune.Register(reg, sub)
}

// Run rolls up newly published sync_files every Interval until ctx ends,
// waiting with backoff while the database is away, and runs the retention
// between passes.
func (r *Roller) Run(ctx context.Context) error {
	backoff.Loop(ctx, r.cfg.Interval, time.Minute, func(ctx context.Context) error {
		r.retain(ctx, time.Now())
		res, err := r.RunOnce(ctx)
		var de *shard.DownError
		if errors.As(err, &de) && de.Partial() {
			// The other shards were rolled up: keep their pace.
			r.cfg.Logger.Warn("shard(s) unavailable; their gateways' blocks stay pending", "shards", de.Shards, "err", de.Err)
			return nil
		}
		if err != nil && res.Blocks > 0 && ctx.Err() == nil {
			// Blocks were replaced before the server went away: start the
			// backoff again from its shortest wait.
			r.cfg.Logger.Warn("database lost in the middle of a pass; the rest stays pending", "blocks", res.Blocks, "err", err)
			return nil
		}
		return err
	}, func(err error, wait time.Duration) {
		r.cfg.Logger.Warn("database unavailable; blocks stay pending", "err", err, "retry_in", wait.Round(time.Millisecond))
	})
	return nil
}

// pendingFile is a published sync_file not yet rolled up.
type pendingFile struct {
	n    logfile.Name
	size int64
}

// RunOnce recomputes every block that has a sync_file not yet rolled up
// (a new one, or one whose size changed), replaces its buckets, then
// records its files in the state. A crash before the state is written
// makes the next pass recompute the block, which gives the same rows. It
// returns an error only when the database is unavailable or ctx ended; a
// block that fails otherwise is logged and retried at the next pass.
func (r *Roller) RunOnce(ctx context.Context) (Result, error) {
	pending, blocks, err := r.pending()
	if err != nil {
		return Result{}, err
	}
	if !r.checked {
		if err := r.checkOnce(ctx, blocks); err != nil {
			return Result{}, err
		}
	}
	var res Result
	failed := false
	down := map[string]error{} // past one server: shards lost this pass
	for _, b := range blocks {
		sh := r.set.Map().For(b.Gateway, b.Day)
		if down[sh] != nil {
			continue // its blocks stay pending; the other shards go on
		}
		br, err := r.Block(ctx, b)
		if err != nil && mariadb.IsDamaged(err) {
			// The day is recomputed whole, this block with it.
			if err = r.repairDay(ctx, b.Day, err); err == nil {
				r.stats.Pending.Add(-int64(len(pending[b])))
				continue
			}
		}
		if err != nil {
			if mariadb.IsUnavailable(err) {
				r.checked = false
			}
			if mariadb.IsUnavailable(err) && ctx.Err() == nil && r.set.Map().Sharded() {
				down[sh] = err
				continue
			}
			if mariadb.IsUnavailable(err) || ctx.Err() != nil {
				return res, err
			}
			failed = true
			r.stats.Failures.Add(1)
			r.cfg.Logger.Error("block failed; it stays pending", "block", b, "err", err)
			continue
		}
		res.add(br)
		if err := r.state.record(b.Day, pending[b]); err != nil {
			// Recomputing the block again is harmless; it only costs time.
			r.cfg.Logger.Warn("rolled up, but could not record it; the block will be recomputed", "block", b, "err", err)
		}
		r.stats.Pending.Add(-int64(len(pending[b])))
	}
	r.trimCache(blocks)
	if len(down) > 0 {
		return res, r.downError(down)
	}
	if !failed {
		r.stats.LastSuccess.Store(time.Now().Unix())
	}
	return res, nil
}

// pending finds the sync_files not rolled up yet (new, or grown since),
// by block, and the blocks in the order they are rolled up.
func (r *Roller) pending() (map[Block][]pendingFile, []Block, error) {
	pending := make(map[Block][]pendingFile)
	var count int64
	cutoff := r.cutoff(time.Now())
	err := logfile.WalkSync(r.cfg.Root, func(path string, n logfile.Name) error {
		if _, ok := r.plans[n.Table]; !ok {
			return nil
		}
		if n.Day() < cutoff {
			return nil // past -keep-days: its rollups are dropped, not made again
		}
		info, err := os.Stat(path)
		if err != nil {
			return nil // renamed meanwhile (reopened for late rows)
		}
		if !r.state.has(n, info.Size()) {
			b := BlockOf(n)
			pending[b] = append(pending[b], pendingFile{n, info.Size()})
			count++
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", r.cfg.Root, err)
	}
	r.stats.Pending.Store(count)
	blocks := make([]Block, 0, len(pending))
	for b := range pending {
		blocks = append(blocks, b)
	}
	sortBlocks(blocks)
	return pending, blocks, nil
}

// checkOnce checks the rollup tables of the days blocks fall in, at the
// first pass and again after the database was lost. A shard that is down
// is checked at a later pass.
func (r *Roller) checkOnce(ctx context.Context, blocks []Block) error {
	var days []string
	for _, b := range blocks {
		if !slices.Contains(days, b.Day) {
			days = append(days, b.Day)
		}
	}
	err := r.checkDays(ctx, days)
	var de *shard.DownError
	switch {
	case errors.As(err, &de) && de.Partial():
		// Checked again at the next pass; the blocks of the shard
		// that is down fail below and stay pending.
		r.cfg.Logger.Warn("shard(s) unavailable; their rollup tables are checked when they are back", "shards", de.Shards)
	case err != nil:
		return fmt.Errorf("check rollup tables: %w", err)
	default:
		r.checked = true
	}
	return nil
}

// downError names the shards lost during a pass, with their errors.
func (r *Roller) downError(down map[string]error) error {
	de := &shard.DownError{Of: len(r.set.Map().Shards)}
	var errs []error
	for _, n := range slices.Sorted(maps.Keys(down)) {
		de.Shards = append(de.Shards, n)
		errs = append(errs, down[n])
	}
	de.Err = errors.Join(errs...)
	return de
}

func sortBlocks(bs []Block) {
	slices.SortFunc(bs, func(a, b Block) int {
		return strings.Compare(a.Day+fmt.Sprint(a.Index)+a.Gateway+string(a.Letter), b.Day+fmt.Sprint(b.Index)+b.Gateway+string(b.Letter))
	})
}

// Rebuild recomputes every block of a day (YYYYMMDD) of every gateway that
// has sync_files for it, including blocks that now have none (their rows
// are deleted), and records the day's files in the state.
func (r *Roller) Rebuild(ctx context.Context, day string) (Result, error) {
	if _, err := schema.ParseDay(day); err != nil {
		return Result{}, err
	}
	dirs, err := filepath.Glob(dataroot.Root(r.cfg.Root).SyncDay("*", day))
	if err != nil {
		return Result{}, err
	}
	var res Result
	for _, d := range dirs {
		gw := filepath.Base(filepath.Dir(d))
		if !logfile.ValidGateway(gw) {
			continue
		}
		for _, s := range sources {
			for i := range BlocksPerDay {
				br, err := r.Block(ctx, Block{Gateway: gw, Day: day, Letter: s.Letter, Index: i})
				if err != nil {
					return res, err
				}
				res.add(br)
			}
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			return res, err
		}
		var done []pendingFile
		for _, e := range entries {
			n, err := logfile.ParseName(e.Name(), time.Local)
			if err != nil || strings.HasSuffix(e.Name(), ".part") || r.plans[n.Table] == nil {
				continue
			}
			if info, err := e.Info(); err == nil {
				done = append(done, pendingFile{n, info.Size()})
			}
		}
		if err := r.state.record(day, done); err != nil {
			return res, err
		}
	}
	r.trimCache(nil)
	return res, nil
}
