package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/acstore/acstore/internal/bench"
	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/spider"
)

// shardsBench measures head office past one server (docs/scale.md), each
// next to one server in the same run:
//   - loading a day of A rows of 12 gateways into the shards of the map at
//     mapPath (one LOAD DATA LOCAL stream per shard, in parallel) vs into
//     one server (the private instance);
//   - a day's report (top 10 users by bytes, raw rows) through the Spider
//     front vs on the one server.
//
// Every server here shares this machine's 2 cores and disk: the shards
// cannot be faster than one server; the rows show what routing and Spider
// cost. Tables go into databases of their own, dropped at the end.
func shardsBench(ctx context.Context, dsn, mapPath string, aRows int) ([]bench.Row, error) {
	m, err := shard.Load(mapPath)
	if err != nil {
		return nil, err
	}
	if m.Front == "" {
		return nil, fmt.Errorf("%s names no front", mapPath)
	}
	oneDSN, err := renameShards(m, dsn)
	if err != nil {
		return nil, err
	}
	set := shard.Open(m)
	defer set.Close()
	one, err := mariadb.Open(ctx, oneDSN)
	if err != nil {
		return nil, err
	}
	defer one.Close()
	front, err := spider.New(set, nil)
	if err != nil {
		return nil, err
	}
	defer front.Close()
	dropShards := shardsDropper(ctx, set, front)
	oneSet := shard.Open(shard.Single(oneDSN))
	defer oneSet.Close()
	dropOne := oneDropper(ctx, one, oneSet)
	defer dropShards()
	defer dropOne()
	return shardsRun(ctx, aRows, len(m.Shards), set, front, dropShards, oneSet, dropOne)
}

// shardsRun is shardsBench on servers made ready: the loads into set
// (through front) and into oneSet, then the day's report on both.
func shardsRun(ctx context.Context, aRows, shards int, set *shard.Set, front *spider.Front, dropShards func(), oneSet *shard.Set, dropOne func()) ([]bench.Row, error) {
	root, err := os.MkdirTemp("", "acbench-shards-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	day := time.Date(2000, 1, 7, 0, 0, 0, 0, time.Local)
	if err := shardsDay(root, day, aRows); err != nil {
		return nil, err
	}
	total := int64(aRows / shardsGateways / shardsWindows * shardsWindows * shardsGateways)
	table := "A" + day.Format("20060102")
	out, err := bench.Pair(
		bench.Row{Group: "shards", Name: fmt.Sprintf("loader -keep into %d shards", shards), Amount: float64(total), Unit: "rows",
			Note: fmt.Sprintf("%d gateways, one LOAD DATA stream per shard in parallel, all on this machine", shardsGateways)},
		bench.Row{Group: "shards", Name: "loader -keep into one server (reference)", Amount: float64(total), Unit: "rows"},
		loadTrial(ctx, root, total, set, front, dropShards), loadTrial(ctx, root, total, oneSet, nil, dropOne))
	if err != nil {
		return nil, err
	}
	// Both now hold the day: a day's report, through the front and on one.
	db1, err := oneSet.Default(ctx)
	if err != nil {
		return nil, err
	}
	if out[1].Note, err = rowCost(ctx, db1, root, table, total); err != nil {
		return nil, err
	}
	q := rollup.Query{Table: 'A', By: "U", From: day, To: day.AddDate(0, 0, 1), Top: 10, RawOnly: true}
	report, err := dayReport(ctx, front, db1, q, table, total)
	if err != nil {
		return nil, err
	}
	return append(out, report...), nil
}

// dayReport times a day's report through the Spider front and on the one
// server, and checks both gave the same rows.
func dayReport(ctx context.Context, front *spider.Front, db1 *sql.DB, q rollup.Query, table string, total int64) ([]bench.Row, error) {
	var viaFront, onOne []rollup.Row
	report, err := bench.Pair(
		bench.Row{Group: "shards", Name: "day report through the Spider front", Amount: float64(total), Unit: "rows",
			Note: "top 10 users by bytes over the day's raw " + table + " rows, GROUP BY pushed to the shards"},
		bench.Row{Group: "shards", Name: "day report on one server (reference)", Amount: float64(total), Unit: "rows"},
		func() (time.Duration, error) {
			begin := time.Now()
			_, rows, missing, err := front.Answer(ctx, q)
			if err == nil && missing != nil {
				err = fmt.Errorf("shards %v missing", missing)
			}
			viaFront = rows
			return time.Since(begin), err
		},
		func() (time.Duration, error) {
			begin := time.Now()
			_, rows, err := rollup.Answer(ctx, db1, q)
			onOne = rows
			return time.Since(begin), err
		})
	if err != nil {
		return nil, err
	}
	if fmt.Sprint(viaFront) != fmt.Sprint(onOne) || len(onOne) == 0 {
		return nil, fmt.Errorf("the front's report differs from one server's:\n%v\n%v", viaFront, onOne)
	}
	return report, nil
}

// renameShards points every server of m, and dsn, at a database of its own
// (acbench_shards), and returns dsn so renamed.
func renameShards(m *shard.Map, dsn string) (string, error) {
	// Databases of their own on every server.
	rename := func(d string) (string, error) {
		cfg, err := mysql.ParseDSN(d)
		if err != nil {
			return "", err
		}
		cfg.DBName = "acbench_shards"
		return cfg.FormatDSN(), nil
	}
	var err error
	for n, d := range m.Shards {
		if m.Shards[n], err = rename(d); err != nil {
			return "", err
		}
	}
	if m.Front, err = rename(m.Front); err != nil {
		return "", err
	}
	return rename(dsn)
}

// shardsDropper returns what drops the shards' and the front's databases.
func shardsDropper(ctx context.Context, set *shard.Set, front *spider.Front) func() {
	return func() {
		c := context.WithoutCancel(ctx)
		set.Each(c, func(c context.Context, _ string, db *sql.DB) error {
			_, err := db.ExecContext(c, "DROP DATABASE IF EXISTS acbench_shards")
			return err
		})
		if fdb, err := front.DB(c); err == nil {
			fdb.ExecContext(c, "DROP DATABASE IF EXISTS acbench_shards")
		}
		set.Close() // the databases are made again on connecting
		front.Close()
	}
}

// oneDropper returns what drops the one server's database.
func oneDropper(ctx context.Context, one *sql.DB, oneSet *shard.Set) func() {
	return func() {
		one.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS acbench_shards")
		oneSet.Close()
	}
}

// The day shardsBench loads: gateways, each of windows files.
const shardsGateways, shardsWindows = 12, 24

// shardsDay writes a day of aRows A rows of shardsGateways gateways under root.
func shardsDay(root string, day time.Time, aRows int) error {
	const gateways, windows = shardsGateways, shardsWindows
	for i := 0; i < gateways; i++ {
		gw := fmt.Sprintf("%08X", uint64(i)*0x100000000/gateways+0x1234)
		if _, err := rowgen.Grouped(rowgen.GroupedConfig{Root: root, Gateway: gw, Seed: uint64(40 + i), Start: day, Windows: windows,
			RowsPerWindow: aRows / gateways / windows, Letters: "A", Users: 2000, Apps: 60}); err != nil {
			return err
		}
	}
	return nil
}

// loadTrial is one run of the loader over root into set (through fr when
// not nil), after drop; it checks that total rows were loaded.
func loadTrial(ctx context.Context, root string, total int64, set *shard.Set, fr loader.Front, drop func()) bench.Trial {
	return func() (time.Duration, error) {
		drop()
		if err := os.RemoveAll(filepath.Join(root, "state")); err != nil {
			return 0, err
		}
		l, err := loader.New(loader.Config{Root: root, Keep: true, Shards: set, Front: fr}, nil)
		if err != nil {
			return 0, err
		}
		defer l.Close()
		begin := time.Now()
		res, err := l.RunOnce(ctx)
		took := time.Since(begin)
		if err == nil && res.Rows != total {
			err = fmt.Errorf("%d rows loaded, want %d", res.Rows, total)
		}
		return took, err
	}
}

// rowCost says what an A row of table costs, for docs/scale.md's model:
// data and index bytes on db1, LZ4 sync_files bytes under root.
func rowCost(ctx context.Context, db1 *sql.DB, root, table string, total int64) (string, error) {
	// What a row costs, for docs/scale.md's model.
	var data, index int64
	if err := db1.QueryRowContext(ctx, "SELECT DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table).Scan(&data, &index); err != nil {
		return "", err
	}
	var files int64
	filepath.Walk(filepath.Join(root, "sync"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files += fi.Size()
		}
		return nil
	})
	return fmt.Sprintf("per A row: %.0f B data + %.0f B index in MyISAM, %.0f B in the LZ4 sync_files (on the wire)",
		float64(data)/float64(total), float64(index)/float64(total), float64(files)/float64(total)), nil
}
