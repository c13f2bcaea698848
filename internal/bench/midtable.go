package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rowgen"
)

// MidtableRows is how many F rows Midtable writes by default: four hours of a
// busy link.
const MidtableRows = 1_000_000

// Midtable measures, for `make bench`, in the same run on the same server:
//   - midtable building every F rollup (all dimension sets, all three
//     periods) of a 4-hour block from its sync_files, loaded through LOAD
//     DATA, against the server computing the same tables with INSERT ...
//     SELECT ... GROUP BY over the raw day table (the pre-3.2 way), and
//     against one such GROUP BY alone;
//   - a 4-hour report (top 10 users by bytes_down) answered from the
//     rollups against the same report from the raw rows.
//
// It writes n rows (MidtableRows if n <= 0) into a temporary data root and
// tables of its own day (2000-01-03), dropped at the end.
func Midtable(ctx context.Context, db *sql.DB, n int, logger *slog.Logger) ([]Row, error) {
	if n <= 0 {
		n = MidtableRows
	}
	const gw = "BE0C4A12"
	start := time.Date(2000, 1, 3, 12, 0, 0, 0, time.Local)
	day := start.Format("20060102")
	root, err := os.MkdirTemp("", "acbench-midtable-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	windows := rollup.BlockMinutes / 5
	if _, err := rowgen.Grouped(rowgen.GroupedConfig{Root: root, Gateway: gw, Seed: 7, Start: start, Windows: windows,
		RowsPerWindow: (n + windows - 1) / windows, Letters: "F", Users: 2000, Apps: 60}); err != nil {
		return nil, fmt.Errorf("write rows: %w", err)
	}
	n = (n + windows - 1) / windows * windows
	var drop []string
	defer func() {
		for _, t := range drop {
			db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+mariadb.Quote(t))
		}
	}()
	raw := "F" + day
	drop = append(drop, raw)
	for _, r := range rollup.RollupsOf('F') {
		for _, p := range rollup.Periods() {
			drop = append(drop, r.Table(p, day), "bench_"+r.Table(p, day))
		}
	}
	for _, t := range drop { // left by an interrupted run
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(t)); err != nil {
			return nil, err
		}
	}
	l, err := loader.New(loader.Config{Root: root, Keep: true}, db)
	if err != nil {
		return nil, err
	}
	_, err = l.RunOnce(ctx)
	l.Close()
	if err != nil {
		return nil, fmt.Errorf("load raw rows: %w", err)
	}
	var rows []Row
	var files int
	logfile.WalkSync(root, func(string, logfile.Name) error { files++; return nil })
	rawSums, err := measureSums(ctx, db, raw)
	if err != nil {
		return nil, err
	}
	// Every trial checks its 24 tables: each sums to the raw table.
	checkTables := func(prefix string) error {
		for _, r := range rollup.RollupsOf('F') {
			for _, p := range rollup.Periods() {
				name := prefix + r.Table(p, day)
				got, err := measureSums(ctx, db, name)
				if err != nil {
					return err
				}
				if got != rawSums {
					return fmt.Errorf("%s sums to %s, the raw rows to %s", name, got, rawSums)
				}
			}
		}
		return nil
	}
	var tables int
	var res rollup.Result
	mid := func() (time.Duration, error) {
		for _, r := range rollup.RollupsOf('F') {
			for _, p := range rollup.Periods() {
				if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(r.Table(p, day))); err != nil {
					return 0, err
				}
			}
		}
		state, err := os.MkdirTemp(root, "state-")
		if err != nil {
			return 0, err
		}
		ro, err := rollup.New(rollup.Config{Root: root, StateDir: state, Logger: logger}, db)
		if err != nil {
			return 0, err
		}
		begin := time.Now()
		res, err = ro.RunOnce(ctx)
		took := time.Since(begin)
		if err != nil {
			return 0, err
		}
		if res.Rows != int64(n) {
			return 0, fmt.Errorf("midtable aggregated %d rows, want %d", res.Rows, n)
		}
		return took, checkTables("")
	}
	// The server, like for like: one pass over the raw rows summing them
	// per 30 minutes and every dimension at once, then the same tables
	// from that, on 2 connections (midtable uses the machine's cores too).
	fine := "bench_fine_F" + day
	drop = append(drop, fine)
	server := func() (time.Duration, error) {
		tables = 0
		for _, r := range rollup.RollupsOf('F') {
			for _, p := range rollup.Periods() {
				name := "bench_" + r.Table(p, day)
				if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(name)); err != nil {
					return 0, err
				}
				if _, err := db.ExecContext(ctx, r.CreateSQL(name)); err != nil {
					return 0, err
				}
				tables++
			}
		}
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(fine)); err != nil {
			return 0, err
		}
		begin := time.Now()
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+mariadb.Quote(fine)+" ENGINE=MyISAM "+finePassSQL(raw)); err != nil {
			return 0, fmt.Errorf("server 30-minute pass: %w", err)
		}
		var jobs []string
		for _, r := range rollup.RollupsOf('F') {
			for _, p := range rollup.Periods() {
				jobs = append(jobs, "INSERT INTO "+mariadb.Quote("bench_"+r.Table(p, day))+" "+r.SelectFrom(p, fine))
			}
		}
		errs := make(chan error, 2)
		for c := 0; c < 2; c++ {
			go func() {
				for i := c; i < len(jobs); i += 2 {
					if _, err := db.ExecContext(ctx, jobs[i]); err != nil {
						errs <- fmt.Errorf("server GROUP BY: %w", err)
						return
					}
				}
				errs <- nil
			}()
		}
		err := errors.Join(<-errs, <-errs)
		took := time.Since(begin)
		if err != nil {
			return 0, err
		}
		return took, checkTables("bench_")
	}
	// Warm the raw table into the OS cache first.
	if _, err := db.ExecContext(ctx, "SELECT SUM(bytes_up) FROM "+mariadb.Quote(raw)); err != nil {
		return nil, err
	}
	const refAll = "server: one 30-min pass, then the same tables on 2 connections (reference)"
	pair, err := Pair(Row{Group: "midtable", Name: fmt.Sprintf("midtable, all F rollup tables from %d sync_files", files), Amount: float64(n), Unit: "rows"},
		Row{Group: "midtable", Name: refAll, Amount: float64(n), Unit: "rows"}, mid, server)
	if err != nil {
		return nil, err
	}
	pair[0].Note = fmt.Sprintf("%d tables, %d rollup rows", tables, res.TableRows)
	rows = append(rows, pair...)
	// One table alone, straight from the raw rows, as a scale.
	oneTable := "bench_" + rollup.RollupsOf('F')[0].Table(rollup.Periods()[1], day)
	for _, r := range rollup.RollupsOf('F') {
		if r.Dims == "GA" {
			oneTable = "bench_" + r.Table(rollup.Periods()[1], day)
			one, err := Repeat(Row{Group: "midtable", Name: "server: one GROUP BY (FGA 1H) from the raw rows", Amount: float64(n), Unit: "rows"},
				func() (time.Duration, error) {
					if _, err := db.ExecContext(ctx, "TRUNCATE TABLE "+mariadb.Quote(oneTable)); err != nil {
						return 0, err
					}
					begin := time.Now()
					if _, err := db.ExecContext(ctx, "INSERT INTO "+mariadb.Quote(oneTable)+" "+r.RawSQL(rollup.Periods()[1], day)); err != nil {
						return 0, err
					}
					return time.Since(begin), nil
				})
			if err != nil {
				return nil, err
			}
			one.Note = fmt.Sprintf("midtable builds all %d tables at %.2fx the rate of this one", tables, one.Took.Seconds()/pair[0].Took.Seconds())
			rows = append(rows, one)
		}
	}

	// A 4-hour report, from rollups and from raw rows.
	q := rollup.Query{Table: 'F', By: "U", From: start, To: start.Add(4 * time.Hour), OrderBy: "bytes_down", Top: 10}
	fromRollup, prl, err := timeQuery(ctx, db, q, 21)
	if err != nil {
		return nil, err
	}
	q.RawOnly = true
	fromRaw, _, err := timeQuery(ctx, db, q, 5)
	if err != nil {
		return nil, err
	}
	const refRaw = "4-hour report from raw rows (reference)"
	rows = append(rows,
		Row{Group: "midtable", Name: "4-hour report from rollups", Amount: 1, Unit: "queries", Took: fromRollup, Reference: refRaw,
			Note: fmt.Sprintf("top 10 users by bytes_down; reads %v", prl.Parts)},
		Row{Group: "midtable", Name: refRaw, Amount: 1, Unit: "queries", Took: fromRaw, Note: fmt.Sprintf("GROUP BY over %d raw rows", n)})
	return rows, nil
}

// timeQuery runs q runs times (plus one to warm up) and returns the median
// time.
func timeQuery(ctx context.Context, db *sql.DB, q rollup.Query, runs int) (time.Duration, rollup.Plan, error) {
	var times []time.Duration
	var pl rollup.Plan
	for i := range runs + 1 {
		s := time.Now()
		p, rows, err := rollup.Answer(ctx, db, q)
		if err != nil {
			return 0, pl, err
		}
		if len(rows) == 0 {
			return 0, pl, fmt.Errorf("report %v: no rows", q)
		}
		if i > 0 {
			times = append(times, time.Since(s))
		}
		pl = p
	}
	slices.Sort(times)
	return times[len(times)/2], pl, nil
}

// finePassSQL sums the raw F rows per gateway, 30 minutes and every
// dimension: the one pass the server's reference reads the raw rows in.
// Its columns are the raw table's (ts is the 30-minute bucket), so every
// rollup's selectFrom reads it as it would the raw table.
func finePassSQL(raw string) string {
	src, _ := rollup.SourceByLetter('F')
	sel := []string{"`gw`", rollup.BucketSQL(rollup.Periods()[2]) + " AS `ts`"}
	group := []string{"`gw`", "`ts`"}
	for i := 0; i < len(rollup.DimOrder); i++ {
		if col, ok := src.DimColumns[rollup.DimOrder[i]]; ok {
			sel = append(sel, "`"+col+"`")
			group = append(group, "`"+col+"`")
		}
	}
	for _, m := range src.Measures {
		sel = append(sel, "CAST("+rollup.MeasureSQL(m)+" AS UNSIGNED) AS `"+m.From+"`")
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + mariadb.Quote(raw) + " GROUP BY " + strings.Join(group, ", ")
}

// measureSums returns the sums of the F measures of a table, as text.
func measureSums(ctx context.Context, db *sql.DB, table string) (string, error) {
	var b, d, p, s sql.NullString
	err := db.QueryRowContext(ctx, "SELECT SUM(bytes_up), SUM(bytes_down), SUM(packets), SUM(sessions) FROM "+mariadb.Quote(table)).Scan(&b, &d, &p, &s)
	if err != nil {
		return "", fmt.Errorf("sum %s: %w", table, err)
	}
	return fmt.Sprintf("bytes_up %s, bytes_down %s, packets %s, sessions %s", b.String, d.String, p.String, s.String), nil
}
