package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/acstore/acstore/internal/bench"
	"github.com/acstore/acstore/internal/console/report"
	"github.com/acstore/acstore/internal/console/search"
	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rowgen"
)

// consoleBench measures the console's two promises, each next to the same
// answer from raw SQL in the same run:
//   - a report over one day of aRows A rows (top 10 users by bytes_down,
//     and the hourly trend) from the rollups, server time (what the
//     console spends between request and page: planning, listing tables,
//     the query);
//   - the first page (50 rows, newest first) of a search over a day of
//     uRows U rows, unfiltered and with a text filter, and its total (which
//     the page fetches after it shows).
//
// The rows are generated into sync_files, loaded by the loader and rolled
// up by midtable (the real programs' libraries), into tables of their own
// day (2000-01-05), dropped at the end.
func consoleBench(ctx context.Context, db *sql.DB, aRows, uRows int) ([]bench.Row, error) {
	const gw = "C0DE0C0E"
	day := time.Date(2000, 1, 5, 0, 0, 0, 0, time.Local)
	ymd := day.Format("20060102")
	root, err := os.MkdirTemp("", "acbench-console-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	drop := func() {
		tables, _ := mariadb.Tables(context.WithoutCancel(ctx), db)
		for _, t := range tables {
			if len(t) > 8 && t[len(t)-8:] == ymd {
				db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+mariadb.Quote(t))
			}
		}
	}
	drop() // left by an interrupted run
	defer drop()
	if err := consoleDay(ctx, db, root, gw, day, aRows, uRows); err != nil {
		return nil, err
	}
	var nA, nU int64
	db.QueryRowContext(ctx, "SELECT COUNT(*) FROM A"+ymd).Scan(&nA)
	db.QueryRowContext(ctx, "SELECT COUNT(*) FROM U"+ymd).Scan(&nU)

	var rows []bench.Row
	r, err := reportRows(ctx, db, day, nA)
	if err != nil {
		return nil, err
	}
	rows = append(rows, r...)
	r, err = searchRows(ctx, db, day, nU)
	if err != nil {
		return nil, err
	}
	return append(rows, r...), nil
}

// median runs f runs times after one warm-up and returns the median time.
func median(runs int, f func() (time.Duration, error)) (time.Duration, error) {
	var ts []time.Duration
	for i := range runs + 1 {
		d, err := f()
		if err != nil {
			return 0, err
		}
		if i > 0 {
			ts = append(ts, d)
		}
	}
	slices.Sort(ts)
	return ts[len(ts)/2], nil
}

func reportRows(ctx context.Context, db *sql.DB, day time.Time, n int64) ([]bench.Row, error) {
	var rows []bench.Row
	for _, kind := range []string{"traffic", "trend"} {
		k, _ := report.KindByName(kind)
		req := report.Request{Kind: k, From: day, To: day.AddDate(0, 0, 1), Top: 10, Measure: "bytes_down"}
		first, err := report.Run(ctx, db, req)
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", kind, err)
		}
		want := sumDown(first)
		// The console's server time, median of 11 reports.
		prog := func() (time.Duration, error) {
			var rep *report.Report
			took, err := median(11, func() (time.Duration, error) {
				var err error
				rep, err = report.Run(ctx, db, req)
				if err != nil {
					return 0, err
				}
				return rep.Elapsed, nil
			})
			if err == nil && sumDown(rep) != want {
				err = fmt.Errorf("report %s changed: %d bytes_down, was %d", kind, sumDown(rep), want)
			}
			return took, err
		}
		// The same answer from raw SQL: the GROUP BY over the day table,
		// which must equal the rollups'.
		by := "U"
		if kind == "trend" {
			by = ""
		}
		q := rollup.Query{Table: 'A', By: by, From: req.From, To: req.To, OrderBy: "bytes_down", Top: 10, RawOnly: true}
		ref := rawReportTrial(ctx, db, q, kind, want)
		r, err := bench.Pair(
			bench.Row{Group: "console", Name: fmt.Sprintf("%s report, day of A, rollups", kind), Amount: 1, Unit: "reports",
				Note: fmt.Sprintf("server time, median of 11; reads %d table(s)", len(first.Parts))},
			bench.Row{Group: "console", Name: fmt.Sprintf("%s report, day of A, raw (reference)", kind), Amount: 1, Unit: "reports",
				Note: fmt.Sprintf("GROUP BY over %d rows", n)},
			prog, ref)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// sumDown is the bytes_down a report shows, summed.
func sumDown(rep *report.Report) uint64 {
	var sum uint64
	for _, s := range rep.Series {
		if s.Name == "bytes_down" {
			for _, v := range s.Data {
				sum += v
			}
		}
	}
	return sum
}

func searchRows(ctx context.Context, db *sql.DB, day time.Time, n int64) ([]bench.Row, error) {
	var rows []bench.Row
	ymd := day.Format("20060102")
	for _, c := range []struct {
		name, field, contains, where string
	}{
		{"all rows", "", "", ""},
		{"uri has /p/42", "uri", "/p/42", " WHERE `uri` LIKE '%/p/42%'"},
	} {
		f := search.Filter{Table: 'U', From: day, To: day.AddDate(0, 0, 1), Field: c.field, Contains: c.contains, Page: 1, PageSize: 50}
		var total int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM U"+ymd+c.where).Scan(&total); err != nil {
			return nil, err
		}
		page := func() (time.Duration, error) {
			s := time.Now()
			res, err := search.Run(ctx, db, f)
			took := time.Since(s)
			if err == nil && len(res.Rows) != int(min(total, 50)) {
				err = fmt.Errorf("search %s: %d rows on the first page, want %d", c.name, len(res.Rows), min(total, 50))
			}
			return took, err
		}
		count := func() (time.Duration, error) {
			s := time.Now()
			got, _, err := search.Count(ctx, db, f)
			took := time.Since(s)
			if err == nil && got != total {
				err = fmt.Errorf("search %s: console counts %d rows, SQL %d", c.name, got, total)
			}
			return took, err
		}
		raw := rawSearchTrial(ctx, db, "U"+ymd+c.where, c.name, total)
		ref := bench.Row{Group: "console", Name: "search " + c.name + ", raw SQL (reference)", Amount: 1, Unit: "pages",
			Note: "COUNT(*) + ORDER BY ts DESC LIMIT 50, one statement each"}
		r, err := bench.Pair(bench.Row{Group: "console", Name: "search page 1, " + c.name, Amount: 1, Unit: "pages",
			Note: fmt.Sprintf("50 newest of %d matching rows (of %d)", total, n)}, ref, page, raw)
		if err != nil {
			return nil, err
		}
		cr, err := bench.Repeat(bench.Row{Group: "console", Name: "search total, " + c.name, Amount: 1, Unit: "counts",
			Reference: ref.Name, Note: "/search/count, fetched by the page after it shows"}, count)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r[0], cr, r[1])
	}
	return rows, nil
}

// consoleDay generates the day's aRows A rows and uRows U rows of gateway
// gw into sync_files under root, loads them into db and rolls them up.
func consoleDay(ctx context.Context, db *sql.DB, root, gw string, day time.Time, aRows, uRows int) error {
	const windows = 24 * 12
	for _, g := range []struct {
		letter string
		n      int
		seed   uint64
	}{{"A", aRows, 11}, {"U", uRows, 12}} {
		if _, err := rowgen.Grouped(rowgen.GroupedConfig{Root: root, Gateway: gw, Seed: g.seed, Start: day, Windows: windows,
			RowsPerWindow: (g.n + windows - 1) / windows, Letters: g.letter, Users: 2000, Apps: 60}); err != nil {
			return fmt.Errorf("generate %s: %w", g.letter, err)
		}
	}
	l, err := loader.New(loader.Config{Root: root, Keep: true}, db)
	if err != nil {
		return err
	}
	_, err = l.RunOnce(ctx)
	l.Close()
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	ro, err := rollup.New(rollup.Config{Root: root}, db)
	if err != nil {
		return err
	}
	if _, err := ro.RunOnce(ctx); err != nil {
		return fmt.Errorf("roll up: %w", err)
	}
	return nil
}

// rawReportTrial answers q from the raw rows and checks it sums to want
// bytes_down, the rollups' answer to the kind report.
func rawReportTrial(ctx context.Context, db *sql.DB, q rollup.Query, kind string, want uint64) bench.Trial {
	return func() (time.Duration, error) {
		s := time.Now()
		_, raw, err := rollup.Answer(ctx, db, q)
		took := time.Since(s)
		if err != nil {
			return 0, err
		}
		var got uint64
		for _, r := range raw {
			got += r.Sums[1] // bytes_down
		}
		if got != want {
			return 0, fmt.Errorf("report %s: raw rows sum %d bytes_down, rollups %d", kind, got, want)
		}
		return took, nil
	}
}

// rawSearchTrial is a search's first page in raw SQL on from (a table and
// its WHERE): the COUNT(*) and the 50 newest rows, checked against total.
func rawSearchTrial(ctx context.Context, db *sql.DB, from, name string, total int64) bench.Trial {
	return func() (time.Duration, error) {
		s := time.Now()
		var got int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+from).Scan(&got); err != nil {
			return 0, err
		}
		rs, err := db.QueryContext(ctx, "SELECT * FROM "+from+" ORDER BY ts DESC LIMIT 50")
		if err != nil {
			return 0, err
		}
		k := 0
		for rs.Next() {
			k++
		}
		rs.Close()
		took := time.Since(s)
		if got != total || k != int(min(total, 50)) {
			return 0, fmt.Errorf("raw search %s: %d rows, %d shown", name, got, k)
		}
		return took, rs.Err()
	}
}
