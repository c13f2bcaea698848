// Command midtable builds the rollup tables (中间表) of the A, F, T and U
// log tables from the sync_files, and answers reports from them.
//
// As a daemon it rolls up each 5-minute window as soon as its sync_files
// are published; `midtable query` answers "traffic of this user between
// T1 and T2, top N by X" from the fewest rollup rows. See internal/rollup
// and its CATALOGUE.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rootlock"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/spider"
)

const usage = `midtable: rollup tables of traffic, sessions, requests and online time.

Usage:
  midtable -data DIR -dsn DSN [-once]              roll up newly published sync_files
  midtable -data DIR -dsn DSN -rebuild -day YYYYMMDD   recompute every rollup of a day
  midtable -data DIR -dsn DSN -check -day YYYYMMDD     compare a day's rollups with the raw tables
  midtable query -table F -by U -from "2026-11-21 13:00" -to "2026-11-21 17:00" [-top N] [-order M]
                 [-user U] [-group G] [-ip IP] [-app A] [-app-type T] [-gw GW] [-raw]

Rollup tables Mid<T><dims><period><YYYYMMDD> (e.g. MidFGA1H20261121) sum the
A, F, T and U tables by group (G), user (U), IP (I), app type (T) and app
(A) over 30M, 1H and 4H buckets. They are computed from the sync_files
under DIR/sync (never from the day tables): whenever a window is
published, the 4-hour block it falls in is recomputed from all its files
and replaced in one locked step. DIR/state/midtable records what was
rolled up, so after a crash -once redoes exactly the unfinished blocks.
The daemon drops the rollup tables of days older than -keep-days, with
DIR/state/midtable's record of them (loader's retention leaves both to
midtable), and keeps the disk under -disk-high and -disk-critical as loader
does (see loader -h), dropping the oldest days' rollups with their files.
One rolling midtable per data root.

query picks the rollup with the dimensions asked for and covers the
interval with 4H, 1H and 30M buckets, reading raw day-table rows only for
ends not on a 30-minute boundary; it prints the tables it used.

Head office past one server (-shards FILE, instead of -dsn): each
gateway's rollups are written on its shard, -check compares each shard's
rollups with its own raw tables, and query reads through the shard map's
Spider front. A shard that does not answer is left out: query prints
which, counts the others, and exits 1.
`

func main() {
	daemon.Main("midtable", func(args []string) error {
		if len(args) > 0 && args[0] == "query" {
			return query(args[1:])
		}
		return run(args)
	})
}

func run(args []string) error {
	fs := flag.NewFlagSet("midtable", flag.ContinueOnError)
	var common daemon.Common
	var cfg rollup.Config
	common.RegisterFlags(fs)
	cfg.RegisterFlags(fs)
	var shards shard.Flag
	shards.Register(fs)
	once := fs.Bool("once", false, "roll up everything pending, then exit")
	rebuild := fs.Bool("rebuild", false, "recompute every rollup of -day")
	check := fs.Bool("check", false, "compare every rollup of -day with the GROUP BY over the raw day tables")
	day := fs.String("day", "", "day for -rebuild or -check, YYYYMMDD")
	fs.Usage = daemon.Usage(fs, usage)
	if err := daemon.Parse(fs, args, &common); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if (*rebuild || *check) != (*day != "") || *rebuild && *check {
		return errors.New("-day goes with one of -rebuild or -check (see -h)")
	}
	ctx, log, stop, err := common.Start("midtable")
	if err != nil {
		return err
	}
	defer stop()
	cfg.Root, cfg.Logger = common.Data, log
	if err := cfg.Validate(); err != nil {
		return err
	}
	set, db, err := shards.Open(ctx, common.DSN)
	if err != nil {
		return err
	}
	defer set.Close()
	cfg.Shards = set
	if db != nil {
		cfg.DayTables = retention.DBStore{DB: db}
	} // past one server, loader -keep drops the day tables on every shard
	if *check {
		return checkDay(ctx, set, *day)
	}
	r, err := rollup.New(cfg, db)
	if err != nil {
		return err
	}
	defer r.Close()
	if *rebuild {
		res, err := r.Rebuild(ctx, *day)
		log.Info("rebuilt", "day", *day, "blocks", res.Blocks, "files", res.Files, "rows", res.Rows, "rollup_rows", res.TableRows)
		return err
	}
	return rollRoot(ctx, log, &common, cfg, r, &shards, set, *once)
}

// rollRoot takes the root's lock and rolls up: what is pending when once,
// else until ctx ends, watching the shards of set.
func rollRoot(ctx context.Context, log *slog.Logger, common *daemon.Common, cfg rollup.Config, r *rollup.Roller, shards *shard.Flag, set *shard.Set, once bool) error {
	// One rolling midtable per root (-rebuild and -check may run beside
	// it: they take the database's table locks).
	lock, err := rootlock.Acquire(cfg.Root, "midtable")
	if err != nil {
		return err
	}
	defer lock.Release()
	if once {
		return rollOnce(ctx, r, log)
	}
	shards.Watch(ctx, set, log)
	return roll(ctx, common, cfg, r)
}

// checkDay prints each rollup of day that differs from its raw tables.
func checkDay(ctx context.Context, set *shard.Set, day string) error {
	ms, err := rollup.CheckShards(ctx, set, day)
	if err != nil {
		return err
	}
	for _, m := range ms {
		fmt.Println(m)
	}
	if len(ms) > 0 {
		return fmt.Errorf("%d rollup table(s) differ from the raw tables; run -rebuild -day %s", len(ms), day)
	}
	fmt.Println("every rollup of", day, "matches its raw day table")
	return nil
}

// rollOnce rolls up everything pending (-once).
func rollOnce(ctx context.Context, r *rollup.Roller, log *slog.Logger) error {
	res, err := r.RunOnce(ctx)
	if err != nil {
		return err
	}
	log.Info("rolled up", "blocks", res.Blocks, "files", res.Files, "rows", res.Rows, "rollup_rows", res.TableRows)
	if n := r.Stats().Failures.Load(); n > 0 {
		return fmt.Errorf("%d block(s) failed; they stay pending", n)
	}
	return nil
}

// roll is the daemon: it rolls up each window as it is published, drops
// the rollups past -keep-days and keeps the disk under its watermarks
// until ctx ends.
func roll(ctx context.Context, common *daemon.Common, cfg rollup.Config, r *rollup.Roller) error {
	log := cfg.Logger
	register := func(reg prometheus.Registerer) { r.Register(reg) }
	if err := common.Observe(ctx, log, register, r.StatsLine); err != nil {
		return err
	}
	log.Info("midtable started", append([]any{common.ConfigAttr(), "data", cfg.Root, "interval", cfg.Interval}, cfg.Disk.Attrs(cfg.KeepDays)...)...)
	err := r.Run(ctx)
	log.Info("midtable stopped", "blocks", r.Stats().Blocks.Load(), "rows", r.Stats().Rows.Load())
	return err
}

func query(args []string) error {
	fs := flag.NewFlagSet("midtable query", flag.ContinueOnError)
	var common daemon.Common
	var qf rollup.QueryFlags
	common.RegisterFlags(fs)
	qf.RegisterFlags(fs)
	var shards shard.Flag
	shards.Register(fs)
	fs.Usage = daemon.Usage(fs, usage)
	if err := daemon.Parse(fs, args, &common); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	q, err := qf.Query()
	if err != nil {
		return err
	}
	ctx, stop := daemon.SignalContext()
	defer stop()
	if shards.Path != "" {
		return queryFront(ctx, &shards, q)
	}
	db, err := mariadb.Open(ctx, common.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	pl, rows, err := rollup.Answer(ctx, db, q)
	if err != nil {
		return err
	}
	rollup.PrintAnswer(os.Stdout, pl, rows, time.Since(start))
	return nil
}

// queryFront answers through the shard map's Spider front; a shard that
// is down leaves its gateways out, and the answer says so.
func queryFront(ctx context.Context, shards *shard.Flag, q rollup.Query) error {
	set, _, err := shards.Open(ctx, "")
	if err != nil {
		return err
	}
	defer set.Close()
	front, err := spider.New(set, nil)
	if err != nil {
		return err
	}
	defer front.Close()
	start := time.Now()
	pl, rows, missing, err := front.Answer(ctx, q)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		fmt.Printf("# shard(s) %s did not answer: their gateways are NOT counted below\n", strings.Join(missing, ", "))
	}
	rollup.PrintAnswer(os.Stdout, pl, rows, time.Since(start))
	if len(missing) > 0 {
		return fmt.Errorf("partial answer: shard(s) %s missing", strings.Join(missing, ", "))
	}
	return nil
}
