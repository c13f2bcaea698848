package rollup

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/acstore/acstore/internal/bench"
	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
)

// BenchRows is how many F rows Bench writes by default: four hours of a
// busy link.
const BenchRows = 1_000_000

// Bench measures, for `make bench`, in the same run on the same server:
//   - midtable building every F rollup (all dimension sets, all three
//     periods) of a 4-hour block from its sync_files, loaded through LOAD
//     DATA, against the server computing the same tables with INSERT ...
//     SELECT ... GROUP BY over the raw day table (the pre-3.2 way), and
//     against one such GROUP BY alone;
//   - a 4-hour report (top 10 users by bytes_down) answered from the
//     rollups against the same report from the raw rows.
//
// It writes n rows (BenchRows if n <= 0) into a temporary data root and
// tables of its own day (2000-01-03), dropped at the end.
func Bench(ctx context.Context, db *sql.DB, n int, logger *slog.Logger) ([]bench.Row, error) {
	if n <= 0 {
		n = BenchRows
	}
	const gw = "BE0C4A12"
	start := time.Date(2000, 1, 3, 12, 0, 0, 0, time.Local)
	day := start.Format("20060102")
	root, err := os.MkdirTemp("", "acbench-midtable-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	windows := BlockMinutes / 5
	if _, err := Generate(GenConfig{Root: root, Gateway: gw, Seed: 7, Start: start, Windows: windows,
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
	for _, r := range RollupsOf('F') {
		for _, p := range periods {
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
	var rows []bench.Row
	const refAll = "server INSERT..SELECT GROUP BY, same tables (reference)"
	var files int
	logfile.WalkSync(root, func(string, logfile.Name) error { files++; return nil })

	// The server, as midtable did before 3.2: a GROUP BY over the day
	// table per rollup table. Warm the table into the OS cache first.
	if _, err := db.ExecContext(ctx, "SELECT SUM(bytes_up) FROM "+mariadb.Quote(raw)); err != nil {
		return nil, err
	}
	var tables int
	var one time.Duration
	begin := time.Now()
	for _, r := range RollupsOf('F') {
		for _, p := range periods {
			name := "bench_" + r.Table(p, day)
			if _, err := db.ExecContext(ctx, r.CreateSQL(name)); err != nil {
				return nil, err
			}
			s := time.Now()
			if _, err := db.ExecContext(ctx, "INSERT INTO "+mariadb.Quote(name)+" "+r.RawSQL(p, day)); err != nil {
				return nil, fmt.Errorf("server GROUP BY: %w", err)
			}
			if r.Dims == "GA" && p.Name == "1H" {
				one = time.Since(s)
			}
			tables++
		}
	}
	serverAll := time.Since(begin)

	// midtable: the same tables from the sync_files.
	ro, err := New(Config{Root: root, Logger: logger}, db)
	if err != nil {
		return nil, err
	}
	begin = time.Now()
	res, err := ro.RunOnce(ctx)
	took := time.Since(begin)
	if err != nil {
		return nil, err
	}
	if res.Rows != int64(n) {
		return nil, fmt.Errorf("midtable aggregated %d rows, want %d", res.Rows, n)
	}
	rows = append(rows,
		bench.Row{Group: "midtable", Name: fmt.Sprintf("midtable, %d F rollup tables from %d sync_files", tables, files), Amount: float64(n), Unit: "rows", Took: took,
			Reference: refAll, Note: fmt.Sprintf("%d rollup rows", res.TableRows)},
		bench.Row{Group: "midtable", Name: refAll, Amount: float64(n), Unit: "rows", Took: serverAll},
		bench.Row{Group: "midtable", Name: "server one GROUP BY (FGA 1H) alone", Amount: float64(n), Unit: "rows", Took: one,
			Note: fmt.Sprintf("midtable builds all %d tables at %.2fx its rate", tables, float64(one)/float64(took))})

	// A 4-hour report, from rollups and from raw rows.
	q := Query{Table: 'F', By: "U", From: start, To: start.Add(4 * time.Hour), OrderBy: "bytes_down", Top: 10}
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
		bench.Row{Group: "midtable", Name: "4-hour report from rollups", Amount: 1, Unit: "queries", Took: fromRollup, Reference: refRaw,
			Note: fmt.Sprintf("top 10 users by bytes_down; reads %v", prl.Parts)},
		bench.Row{Group: "midtable", Name: refRaw, Amount: 1, Unit: "queries", Took: fromRaw, Note: fmt.Sprintf("GROUP BY over %d raw rows", n)})
	return rows, nil
}

// timeQuery runs q runs times (plus one to warm up) and returns the median
// time.
func timeQuery(ctx context.Context, db *sql.DB, q Query, runs int) (time.Duration, Plan, error) {
	var times []time.Duration
	var pl Plan
	for i := range runs + 1 {
		s := time.Now()
		p, rows, err := Answer(ctx, db, q)
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
