package rollup

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/mariadb"
)

// Cond restricts a query to one value of a dimension.
type Cond struct {
	Dim   byte   // G, U, I, T or A
	Value string // bytes, compared exactly
	Null  bool   // match NULL instead of Value
}

// Query asks for the sums of one source table between From and To, grouped
// by some dimensions, optionally restricted to dimension values, the top N
// by one measure: "traffic of this user by app between 13:00 and 17:00",
// "top 10 users by bytes_down".
type Query struct {
	Table   byte   // A, F, T or U
	By      string // dimension letters to group by (any order); "" sums everything
	Where   []Cond
	Gateway string    // one gateway, or "" for all
	From    time.Time // inclusive, local time
	To      time.Time // exclusive
	OrderBy string    // measure column to sort by, descending; default the first measure
	Top     int       // most rows returned; 0 for all
	// RawOnly answers from the raw day tables alone: the reference the
	// rollups are measured against.
	RawOnly bool
	// FromSQL, when set, gives the FROM of each table: a Spider front
	// names the partitions of the shards that are up (package spider).
	FromSQL func(table string) string `json:"-"`
}

// Part is one table a query reads, over [From, To).
type Part struct {
	Table  string
	Raw    bool   // a raw day table, for the part not aligned to 30 minutes
	Period Period // of a rollup table
	From   time.Time
	To     time.Time
	// Missing is set by Answer when the table does not exist: a day with
	// no rows, or raw tables on an appliance in high-performance mode. The
	// answer then does not count that part, and says so.
	Missing bool
}

// Buckets is the number of rollup buckets the part reads (0 for raw).
func (p Part) Buckets() int {
	if p.Raw {
		return 0
	}
	return int(p.To.Sub(p.From).Minutes()) / p.Period.Minutes
}

func (p Part) String() string {
	const layout = "2006-01-02 15:04:05.999999"
	if p.Raw {
		return fmt.Sprintf("%s [%s, %s) raw rows", p.Table, p.From.Format(layout), p.To.Format(layout))
	}
	return fmt.Sprintf("%s [%s, %s) %d bucket(s)", p.Table, p.From.Format(layout), p.To.Format(layout), p.Buckets())
}

// Plan is how a query is answered: the rollup used (nil when none has the
// dimensions asked for, and for RawOnly) and the tables read.
type Plan struct {
	Source *Source
	Rollup *Rollup
	Dims   string // the grouping dimensions, in DimOrder
	Parts  []Part
}

// Row is one row of an answer.
type Row struct {
	Dims []sql.NullString // in Plan.Dims order; byte strings
	Sums []uint64         // in Source.Measures order
}

// PlanQuery chooses the tables that answer q: the rollup with the fewest
// dimensions that has every dimension q groups or filters by, read in the
// fewest buckets that cover the interval exactly (4H buckets where
// aligned, 1H and 30M towards the edges), and the raw day tables only for
// the ends not aligned to 30 minutes.
func PlanQuery(q Query) (Plan, error) {
	src, ok := SourceByLetter(q.Table)
	if !ok {
		return Plan{}, fmt.Errorf("table %q has no rollups (A, F, T or U)", string(q.Table))
	}
	if !q.From.Before(q.To) {
		return Plan{}, fmt.Errorf("empty interval [%s, %s)", q.From, q.To)
	}
	need := q.By
	for _, c := range q.Where {
		need += string(c.Dim)
	}
	for i := 0; i < len(need); i++ {
		if _, ok := src.DimColumns[need[i]]; !ok {
			return Plan{}, fmt.Errorf("table %c has no dimension %q (it has %s)", q.Table, string(need[i]), src.Dims())
		}
	}
	pl := Plan{Source: src, Dims: inOrder(q.By)}
	if q.OrderBy != "" && !slices.ContainsFunc(src.Measures, func(m Measure) bool { return m.Column == q.OrderBy }) {
		return Plan{}, fmt.Errorf("table %c has no measure %q", q.Table, q.OrderBy)
	}
	if !q.RawOnly {
		for _, r := range RollupsOf(q.Table) {
			if covers(r.Dims, need) && (pl.Rollup == nil || len(r.Dims) < len(pl.Rollup.Dims)) {
				pl.Rollup = r
			}
		}
	}
	for day := midnight(q.From); day.Before(q.To); day = day.AddDate(0, 0, 1) {
		if a, b := maxTime(q.From, day), minTime(q.To, day.AddDate(0, 0, 1)); a.Before(b) {
			pl.planDay(q.Table, day, a, b)
		}
	}
	return pl, nil
}

// planDay adds the parts that cover [a, b) of one day: rollup buckets for
// the whole 30-minute slots, merged into one range per table, and the raw
// day table for the ends.
func (pl *Plan) planDay(letter byte, day, a, b time.Time) {
	next := day.AddDate(0, 0, 1)
	raw := func(from, to time.Time) {
		pl.Parts = append(pl.Parts, Part{Table: string(letter) + day.Format("20060102"), Raw: true, From: from, To: to})
	}
	if pl.Rollup == nil {
		raw(a, b)
		return
	}
	// Whole 30-minute slots of the day within [a, b), in minutes.
	lo := (minuteOf(day, a) + 29) / 30 * 30
	hi := minuteOf(day, b) / 30 * 30
	if b.Equal(next) {
		hi = 24 * 60
	}
	if lo >= hi {
		raw(a, b)
		return
	}
	at := func(m int) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), 0, m, 0, 0, day.Location())
	}
	if a.Before(at(lo)) {
		raw(a, at(lo))
	}
	for m := lo; m < hi; {
		for _, p := range periods {
			if m%p.Minutes != 0 || m+p.Minutes > hi {
				continue
			}
			table := pl.Rollup.Table(p, day.Format("20060102"))
			if n := len(pl.Parts); n > 0 && pl.Parts[n-1].Table == table && pl.Parts[n-1].To.Equal(at(m)) {
				pl.Parts[n-1].To = at(m + p.Minutes) // the next bucket of the same table: one range
			} else {
				pl.Parts = append(pl.Parts, Part{Table: table, Period: p, From: at(m), To: at(m + p.Minutes)})
			}
			m += p.Minutes
			break
		}
	}
	if at(hi).Before(b) {
		raw(at(hi), b)
	}
}

func covers(have, need string) bool {
	for i := 0; i < len(need); i++ {
		if !strings.ContainsRune(have, rune(need[i])) {
			return false
		}
	}
	return true
}

// inOrder returns the distinct letters of s in DimOrder.
func inOrder(s string) string {
	var b []byte
	for i := 0; i < len(DimOrder); i++ {
		if strings.IndexByte(s, DimOrder[i]) >= 0 {
			b = append(b, DimOrder[i])
		}
	}
	return string(b)
}

func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

// minuteOf is the wall-clock minute of t in its day (t is within day).
func minuteOf(day, t time.Time) int {
	if t.YearDay() != day.YearDay() {
		return 24 * 60
	}
	h, m, _ := t.Clock()
	return h*60 + m
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// SQL returns the statement that answers q along the plan, and its
// arguments. Tables that do not exist are left out (a day with no rows has
// none), so exist tells which do; when none does, the statement is empty.
func (pl Plan) SQL(q Query, exist func(string) bool) (string, []any) {
	var parts []string
	var args []any
	from := q.FromSQL
	if from == nil {
		from = mariadb.Quote
	}
	for _, p := range pl.Parts {
		if exist(p.Table) {
			s, a := pl.partSQL(p, q, from)
			parts, args = append(parts, s), append(args, a...)
		}
	}
	var outer, group []string
	for i := 0; i < len(pl.Dims); i++ {
		d, _ := DimByLetter(pl.Dims[i])
		outer = append(outer, "`"+d.Column+"`")
		group = append(group, "`"+d.Column+"`")
	}
	order := pl.Source.Measures[0].Column
	if q.OrderBy != "" {
		order = q.OrderBy
	}
	for _, m := range pl.Source.Measures {
		outer = append(outer, "CAST(COALESCE(SUM(`"+m.Column+"`), 0) AS UNSIGNED) AS `"+m.Column+"`")
	}
	if len(parts) == 0 {
		return "", nil // no table holds rows of the interval
	}
	s := "SELECT " + strings.Join(outer, ", ") + " FROM (\n  " + strings.Join(parts, "\n  UNION ALL\n  ") + "\n) p"
	if len(group) > 0 {
		s += " GROUP BY " + strings.Join(group, ", ")
	}
	// Ties are broken by the dimensions, so rollups and raw rows give the
	// same top N.
	s += " ORDER BY `" + order + "` DESC"
	if len(group) > 0 {
		s += ", " + strings.Join(group, ", ")
	}
	if q.Top > 0 {
		s += fmt.Sprintf(" LIMIT %d", q.Top)
	}
	return s, args
}

// partSQL is the SELECT of one part of the plan: its rows of the
// interval, filtered, grouped by the query's dimensions (from names the
// table in it).
func (pl Plan) partSQL(p Part, q Query, from func(string) string) (string, []any) {
	var sel, where, group []string
	var args []any
	col := func(l byte) string {
		d, _ := DimByLetter(l)
		if p.Raw {
			return "`" + pl.Source.DimColumns[l] + "`"
		}
		return "`" + d.Column + "`"
	}
	for i := 0; i < len(pl.Dims); i++ {
		d, _ := DimByLetter(pl.Dims[i])
		sel = append(sel, col(d.Letter)+" AS `"+d.Column+"`")
		group = append(group, col(d.Letter))
	}
	tcol := "`bucket`"
	if p.Raw {
		tcol = "`ts`"
	}
	where = append(where, tcol+" >= ?", tcol+" < ?")
	args = append(args, p.From.Format("2006-01-02 15:04:05.000000"), p.To.Format("2006-01-02 15:04:05.000000"))
	if q.Gateway != "" {
		where = append(where, "`gw` = ?")
		args = append(args, q.Gateway)
	}
	for _, c := range q.Where {
		if c.Null {
			where = append(where, col(c.Dim)+" IS NULL")
		} else {
			where = append(where, col(c.Dim)+" = ?")
			args = append(args, []byte(c.Value))
		}
	}
	for _, m := range pl.Source.Measures {
		if p.Raw {
			sel = append(sel, MeasureSQL(m)+" AS `"+m.Column+"`")
		} else {
			sel = append(sel, "SUM(`"+m.Column+"`) AS `"+m.Column+"`")
		}
	}
	s := "SELECT " + strings.Join(sel, ", ") + " FROM " + from(p.Table) + " WHERE " + strings.Join(where, " AND ")
	if len(group) > 0 {
		s += " GROUP BY " + strings.Join(group, ", ")
	}
	return s, args
}

// Answer plans q, runs it and returns the plan and the rows.
func Answer(ctx context.Context, db *sql.DB, q Query) (Plan, []Row, error) {
	pl, err := PlanQuery(q)
	if err != nil {
		return pl, nil, err
	}
	tables, err := mariadb.Tables(ctx, db)
	if err != nil {
		return pl, nil, err
	}
	have := make(map[string]bool, len(tables))
	for _, t := range tables {
		have[t] = true
	}
	for i := range pl.Parts {
		pl.Parts[i].Missing = !have[pl.Parts[i].Table]
	}
	stmt, args := pl.SQL(q, func(t string) bool { return have[t] })
	var out []Row
	if stmt == "" {
		if len(pl.Dims) == 0 {
			out = append(out, Row{Sums: make([]uint64, len(pl.Source.Measures))}) // SUM over nothing
		}
		return pl, out, nil
	}
	rows, err := db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return pl, nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r := Row{Dims: make([]sql.NullString, len(pl.Dims)), Sums: make([]uint64, len(pl.Source.Measures))}
		ptrs := make([]any, 0, len(r.Dims)+len(r.Sums))
		for i := range r.Dims {
			ptrs = append(ptrs, &r.Dims[i])
		}
		for i := range r.Sums {
			ptrs = append(ptrs, &r.Sums[i])
		}
		if err := rows.Scan(ptrs...); err != nil {
			return pl, nil, fmt.Errorf("query: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return pl, nil, fmt.Errorf("query: %w", err)
	}
	return pl, out, nil
}
