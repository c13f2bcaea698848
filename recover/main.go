// Command recover rebuilds day tables from the sync_files: one damaged
// table, every table after the database was lost, or a check of all of
// them. Loader runs the same code (internal/rebuild) when REPAIR TABLE is
// not enough.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
)

const usage = `recover: rebuild MariaDB day tables from the sync_files.

Usage:
  recover -data DIR -dsn DSN -table T -day YYYYMMDD   rebuild one day table
  recover -data DIR -dsn DSN -check [-repair]         compare files and tables
  recover -data DIR -dsn DSN -all                     rebuild every day table
  recover -data DIR -shards FILE ...                  the same on every shard of a head office

A table is rebuilt into a shadow table (A20261121_rebuild) from every
sync_file of that table and day, then swapped in with one RENAME TABLE, so
readers never see it missing or half full. A rebuild is tried up to three
times; then recover exits 1 with the reason.

-check prints one line per table whose rows differ from its sync_files
(per gateway: the row count, and a checksum over every column of every
row, computed by the server in one scan and from the files in one pass)
or whose CHECK TABLE fails, or that still has the columns of an earlier
layout (README, "Column changes and older data"), and exits 1 if there is
any; with -repair it rebuilds each of them (a table of an earlier layout is
upgraded in place, keeping its rows). -all is for a database that was
lost entirely: it rebuilds every table and day the sync_files hold.
`

func main() { daemon.Main("recover", run) }

func run(args []string) error {
	fs := flag.NewFlagSet("recover", flag.ContinueOnError)
	var common daemon.Common
	common.RegisterFlags(fs)
	var shards shard.Flag
	shards.Register(fs)
	table := fs.String("table", "", "table letter to rebuild (A U P M C O I S F Q T)")
	day := fs.String("day", "", "day to rebuild, YYYYMMDD")
	check := fs.Bool("check", false, "compare the rows of every sync_file with its day table and run CHECK TABLE")
	repair := fs.Bool("repair", false, "with -check: rebuild every table that does not match")
	all := fs.Bool("all", false, "rebuild every day table from the sync_files (after losing the database)")
	fs.Usage = daemon.Usage(fs, usage)
	if err := daemon.Parse(fs, args, &common); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	modes := 0
	for _, on := range []bool{*table != "" || *day != "", *check, *all} {
		if on {
			modes++
		}
	}
	switch {
	case modes != 1:
		return errors.New("give exactly one of -table/-day, -check or -all (see -h)")
	case *repair && !*check:
		return errors.New("-repair goes with -check")
	case (*table != "" || *day != "") && (len(*table) != 1 || !isDay(*day)):
		return errors.New("-table wants one letter and -day a date YYYYMMDD, e.g. -table A -day 20261121")
	}
	ctx, log, stop, err := common.Start("recover")
	if err != nil {
		return err
	}
	defer stop()
	set, _, err := shards.Open(ctx, common.DSN)
	if err != nil {
		return err
	}
	defer set.Close()
	m := mode{table: *table, day: *day, check: *check, repair: *repair, all: *all}
	return m.onShards(ctx, set, common.Data, log)
}

// onShards runs the mode on each shard of set: past one server, each
// shard against the sync_files of its own gateways; a shard that is down
// is reported and the others go on.
func (md mode) onShards(ctx context.Context, set *shard.Set, root string, log *slog.Logger) error {
	var errs []error
	for _, name := range set.Map().Names() {
		db, err := set.DB(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r := &rebuild.Rebuilder{Root: root, DB: db, Logger: log, Attempts: 3}
		if set.Map().Sharded() {
			fmt.Printf("== shard %s\n", name)
			r.Keep = func(gw, day string) bool { return set.Map().For(gw, day) == name }
		}
		if err := md.run(ctx, r, log); err != nil {
			errs = append(errs, fmt.Errorf("shard %s: %w", name, err))
			if !set.Map().Sharded() {
				return err
			}
		}
	}
	return errors.Join(errs...)
}

type mode struct {
	table, day         string
	check, repair, all bool
}

func (md mode) run(ctx context.Context, r *rebuild.Rebuilder, log *slog.Logger) error {
	switch {
	case md.check:
		return r.CheckAndRepair(ctx, md.repair, os.Stdout)
	case md.all:
		var bar *progressbar.ProgressBar
		progress := func(done, total int, res rebuild.Result) {
			if bar == nil {
				bar = progressbar.Default(int64(total), "rebuilding")
			}
			bar.Set(done)
		}
		if !term.IsTerminal(int(os.Stderr.Fd())) {
			progress = func(done, total int, res rebuild.Result) {
				log.Info("rebuilt", "table", res.Table, "rows", res.Rows, "done", done, "of", total)
			}
		}
		results, err := r.All(ctx, progress)
		var rows int64
		for _, res := range results {
			rows += res.Rows
		}
		fmt.Printf("rebuilt %d tables, %d rows\n", len(results), rows)
		return err
	default:
		res, err := r.Table(ctx, md.table[0], md.day)
		if err != nil {
			return err
		}
		fmt.Printf("rebuilt %s: %d rows from %d files (%d torn), attempt %d\n", res.Table, res.Rows, res.Files, res.Torn, res.Attempts)
		return nil
	}
}

func isDay(s string) bool {
	_, err := schema.ParseDay(s)
	return err == nil
}
