// Command loader loads audit rows from files into the MariaDB day tables.
//
// On a branch appliance it loads the load_files that aclog publishes every
// few seconds and deletes each once its rows are in. At head office (-keep)
// it loads the sync_files datasync receives and never deletes them. See
// internal/loader for how.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/rootlock"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/spider"
)

const usage = `loader: load audit rows from files into MariaDB day tables.

Usage:
  loader -data DIR -dsn DSN [-once] [-keep] [-keep-days N]

Branch appliance (default): every -interval, loads the load_files in
DIR/load with LOAD DATA LOCAL INFILE into per-day MyISAM tables (A20261121,
U20261121, ...), creating them as needed, and deletes each file once its
rows are in. Backfill markers make it load whole sync_files when aclog
paused its load_files.

Head office (-keep): loads the sync_files under DIR/sync and never deletes
them; DIR/state/loaded remembers what was loaded.

Head office past one server (-shards FILE): each gateway's rows go to its
shard, as the shard map says for that day; the shards load in parallel,
and one that is down holds back only its own gateways (their files stay
pending and are retried). When the map names a Spider front, loader keeps
its per-day tables (spanning the shards) in step with the shards'.

Retention: -keep-days N removes whole days (day tables, rollups,
sync_files, attachment bundles) older than N days, but never a day that
datasync push on this root has not shipped yet. -disk-high and
-disk-critical (percent of the data root's filesystem) remove the oldest
shipped days while the disk is above -disk-high, and above -disk-critical
unshipped days too, oldest first, each logged as an error. Today is never
removed.

One loader per data root: a second one exits naming the first one's pid.

A damaged table gets REPAIR TABLE and, if that is not enough, is rebuilt
from the sync_files (as recover -table does). While the database is down,
loader waits and retries with backoff; files stay until they are loaded.
Every load is idempotent, so a crash at any moment loses and doubles
nothing.
`

func main() { daemon.Main("loader", run) }

func run(args []string) error {
	fs := flag.NewFlagSet("loader", flag.ContinueOnError)
	var common daemon.Common
	var cfg loader.Config
	common.RegisterFlags(fs)
	cfg.RegisterFlags(fs)
	var shards shard.Flag
	shards.Register(fs)
	once := fs.Bool("once", false, "load everything pending, then exit (0 if all loaded)")
	fs.Usage = daemon.Usage(fs, usage)
	if err := daemon.Parse(fs, args, &common); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	ctx, log, stop, err := common.Start("loader")
	if err != nil {
		return err
	}
	defer stop()
	cfg.Root, cfg.Logger = common.Data, log
	if err := cfg.Validate(); err != nil {
		return err
	}
	lock, err := rootlock.Acquire(cfg.Root, "loader")
	if err != nil {
		return err
	}
	defer lock.Release()

	set, db, err := shards.Open(ctx, common.DSN)
	if err != nil {
		return err
	}
	defer set.Close()
	cfg.Shards = set
	if set.Map().Front != "" {
		front, err := spider.New(set, log)
		if err != nil {
			return err
		}
		defer front.Close()
		cfg.Front = front
	}
	l, err := loader.New(cfg, db)
	if err != nil {
		return err
	}
	defer l.Close()

	if *once {
		return loadOnce(ctx, l, log)
	}

	return loadRoot(ctx, log, &common, cfg, l, &shards, set)
}

// loadRoot runs the loader l until ctx ends, watching the shards of set.
func loadRoot(ctx context.Context, log *slog.Logger, common *daemon.Common, cfg loader.Config, l *loader.Loader, shards *shard.Flag, set *shard.Set) error {
	if err := common.Observe(ctx, log, l.Register, l.StatsLine); err != nil {
		return err
	}
	log.Info("loader started", append([]any{common.ConfigAttr(), "data", cfg.Root, "keep_files", cfg.Keep, "interval", cfg.Interval},
		cfg.Disk.Attrs(cfg.KeepDays)...)...)
	shards.Watch(ctx, set, log)
	err := l.Run(ctx)
	log.Info("loader stopped", "files", l.Stats().Files.Load(), "rows", l.Stats().Rows.Load())
	return err
}

// loadOnce loads everything pending, then applies retention (-once).
func loadOnce(ctx context.Context, l *loader.Loader, log *slog.Logger) error {
	res, err := l.RunOnce(ctx)
	if err != nil {
		return err
	}
	log.Info("loaded", "files", res.Files, "rows", res.Rows, "statements", res.Batches)
	if n := l.Stats().Failures.Load(); n > 0 {
		return fmt.Errorf("%d batch(es) failed; their files are still pending", n)
	}
	return l.Retention(ctx, time.Now())
}
