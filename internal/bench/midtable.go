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
	start := time.Date(2000, 1, 3, 12, 0, 0, 0, time.Local)
	day := start.Format("20060102")
	root, err := os.MkdirTemp("", "acbench-midtable-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	m := &midBench{ctx: ctx, db: db, root: root, day: day, raw: "F" + day, fine: "bench_fine_F" + day, logger: logger}
	defer m.dropAll()
	if err := m.setUp(start, n); err != nil {
		return nil, err
	}
	// Warm the raw table into the OS cache first.
	if _, err := db.ExecContext(ctx, "SELECT SUM(bytes_up) FROM "+mariadb.Quote(m.raw)); err != nil {
		return nil, err
	}
	const refAll = "server: one 30-min pass, then the same tables on 2 connections (reference)"
	pair, err := Pair(Row{Group: "midtable", Name: fmt.Sprintf("midtable, all F rollup tables from %d sync_files", m.files), Amount: float64(m.n), Unit: "rows"},
		Row{Group: "midtable", Name: refAll, Amount: float64(m.n), Unit: "rows"}, m.midtable, m.server)
	if err != nil {
		return nil, err
	}
	pair[0].Note = fmt.Sprintf("%d tables, %d rollup rows", m.tables, m.res.TableRows)
	rows := pair
	// One table alone, straight from the raw rows, as a scale.
	for _, r := range rollup.RollupsOf('F') {
		if r.Dims == "GA" {
			one, err := m.oneGroupBy(r)
			if err != nil {
				return nil, err
			}
			one.Note = fmt.Sprintf("midtable builds all %d tables at %.2fx the rate of this one", m.tables, one.Took.Seconds()/pair[0].Took.Seconds())
			rows = append(rows, one)
		}
	}
	report, err := m.report(start)
	if err != nil {
		return nil, err
	}
	return append(rows, report...), nil
}

// midBench is one run of Midtable: its data root, day and tables.
type midBench struct {
	ctx       context.Context
	db        *sql.DB
	root, day string
	raw, fine string   // the raw day table; the server's 30-minute pass
	drop      []string // every table the run makes, dropped at the end
	n, files  int      // raw rows, sync_files
	rawSums   string   // the measures' sums over the raw rows
	logger    *slog.Logger

	tables int           // rollup tables built
	res    rollup.Result // midtable's last pass
}

// setUp writes about n rows of a 4-hour block as sync_files, drops the
// tables an interrupted run left, and loads the raw day table.
func (m *midBench) setUp(start time.Time, n int) error {
	const gw = "BE0C4A12"
	windows := rollup.BlockMinutes / 5
	if _, err := rowgen.Grouped(rowgen.GroupedConfig{Root: m.root, Gateway: gw, Seed: 7, Start: start, Windows: windows,
		RowsPerWindow: (n + windows - 1) / windows, Letters: "F", Users: 2000, Apps: 60}); err != nil {
		return fmt.Errorf("write rows: %w", err)
	}
	m.n = (n + windows - 1) / windows * windows
	m.drop = append(m.drop, m.raw)
	for _, r := range rollup.RollupsOf('F') {
		for _, p := range rollup.Periods() {
			m.drop = append(m.drop, r.Table(p, m.day), "bench_"+r.Table(p, m.day))
		}
	}
	for _, t := range m.drop { // left by an interrupted run
		if err := m.dropTable(t); err != nil {
			return err
		}
	}
	m.drop = append(m.drop, m.fine)
	l, err := loader.New(loader.Config{Root: m.root, Keep: true}, m.db)
	if err != nil {
		return err
	}
	_, err = l.RunOnce(m.ctx)
	l.Close()
	if err != nil {
		return fmt.Errorf("load raw rows: %w", err)
	}
	logfile.WalkSync(m.root, func(string, logfile.Name) error { m.files++; return nil })
	m.rawSums, err = measureSums(m.ctx, m.db, m.raw)
	return err
}

func (m *midBench) dropTable(t string) error {
	_, err := m.db.ExecContext(m.ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(t))
	return err
}

// dropAll drops every table of the run, even when its context has ended.
func (m *midBench) dropAll() {
	dropTables(m.ctx, m.db, m.drop)
}

// checkTables checks a trial's 24 tables: each sums to the raw table.
func (m *midBench) checkTables(prefix string) error {
	for _, r := range rollup.RollupsOf('F') {
		for _, p := range rollup.Periods() {
			name := prefix + r.Table(p, m.day)
			got, err := measureSums(m.ctx, m.db, name)
			if err != nil {
				return err
			}
			if got != m.rawSums {
				return fmt.Errorf("%s sums to %s, the raw rows to %s", name, got, m.rawSums)
			}
		}
	}
	return nil
}

// midtable is one trial of midtable: every F rollup from the sync_files,
// with a fresh record.
func (m *midBench) midtable() (time.Duration, error) {
	for _, r := range rollup.RollupsOf('F') {
		for _, p := range rollup.Periods() {
			if err := m.dropTable(r.Table(p, m.day)); err != nil {
				return 0, err
			}
		}
	}
	state, err := os.MkdirTemp(m.root, "state-")
	if err != nil {
		return 0, err
	}
	ro, err := rollup.New(rollup.Config{Root: m.root, StateDir: state, Logger: m.logger}, m.db)
	if err != nil {
		return 0, err
	}
	begin := time.Now()
	m.res, err = ro.RunOnce(m.ctx)
	took := time.Since(begin)
	if err != nil {
		return 0, err
	}
	if m.res.Rows != int64(m.n) {
		return 0, fmt.Errorf("midtable aggregated %d rows, want %d", m.res.Rows, m.n)
	}
	return took, m.checkTables("")
}

// server is one trial of the server, like for like: one pass over the raw
// rows summing them per 30 minutes and every dimension at once, then the
// same tables from that, on 2 connections (midtable uses the machine's
// cores too).
func (m *midBench) server() (time.Duration, error) {
	m.tables = 0
	for _, r := range rollup.RollupsOf('F') {
		for _, p := range rollup.Periods() {
			name := "bench_" + r.Table(p, m.day)
			if err := m.dropTable(name); err != nil {
				return 0, err
			}
			if _, err := m.db.ExecContext(m.ctx, r.CreateSQL(name)); err != nil {
				return 0, err
			}
			m.tables++
		}
	}
	if err := m.dropTable(m.fine); err != nil {
		return 0, err
	}
	begin := time.Now()
	if _, err := m.db.ExecContext(m.ctx, "CREATE TABLE "+mariadb.Quote(m.fine)+" ENGINE=MyISAM "+finePassSQL(m.raw)); err != nil {
		return 0, fmt.Errorf("server 30-minute pass: %w", err)
	}
	var jobs []string
	for _, r := range rollup.RollupsOf('F') {
		for _, p := range rollup.Periods() {
			jobs = append(jobs, "INSERT INTO "+mariadb.Quote("bench_"+r.Table(p, m.day))+" "+r.SelectFrom(p, m.fine))
		}
	}
	errs := make(chan error, 2)
	for c := 0; c < 2; c++ {
		go func() {
			for i := c; i < len(jobs); i += 2 {
				if _, err := m.db.ExecContext(m.ctx, jobs[i]); err != nil {
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
	return took, m.checkTables("bench_")
}

// oneGroupBy times the server building r's 1-hour table alone, straight
// from the raw rows.
func (m *midBench) oneGroupBy(r *rollup.Rollup) (Row, error) {
	table := "bench_" + r.Table(rollup.Periods()[1], m.day)
	return Repeat(Row{Group: "midtable", Name: "server: one GROUP BY (FGA 1H) from the raw rows", Amount: float64(m.n), Unit: "rows"},
		func() (time.Duration, error) {
			if _, err := m.db.ExecContext(m.ctx, "TRUNCATE TABLE "+mariadb.Quote(table)); err != nil {
				return 0, err
			}
			begin := time.Now()
			if _, err := m.db.ExecContext(m.ctx, "INSERT INTO "+mariadb.Quote(table)+" "+r.RawSQL(rollup.Periods()[1], m.day)); err != nil {
				return 0, err
			}
			return time.Since(begin), nil
		})
}

// report times a 4-hour report from start, from rollups and from raw rows.
func (m *midBench) report(start time.Time) ([]Row, error) {
	q := rollup.Query{Table: 'F', By: "U", From: start, To: start.Add(4 * time.Hour), OrderBy: "bytes_down", Top: 10}
	fromRollup, prl, err := timeQuery(m.ctx, m.db, q, 21)
	if err != nil {
		return nil, err
	}
	q.RawOnly = true
	fromRaw, _, err := timeQuery(m.ctx, m.db, q, 5)
	if err != nil {
		return nil, err
	}
	const refRaw = "4-hour report from raw rows (reference)"
	return []Row{
		{Group: "midtable", Name: "4-hour report from rollups", Amount: 1, Unit: "queries", Took: fromRollup, Reference: refRaw,
			Note: fmt.Sprintf("top 10 users by bytes_down; reads %v", prl.Parts)},
		{Group: "midtable", Name: refRaw, Amount: 1, Unit: "queries", Took: fromRaw, Note: fmt.Sprintf("GROUP BY over %d raw rows", m.n)},
	}, nil
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
