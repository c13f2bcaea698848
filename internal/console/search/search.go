package search

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
)

// Row is one row found: its values by column, as text.
type Row struct {
	Day     string // the day table, e.g. U20261202
	Gateway string
	ID      uint64
	Values  []string // in Result.Columns order; "" for NULL
	Null    []bool
}

// Result is one page.
type Result struct {
	Columns []string
	Rows    []Row
	// Total is the number of rows that match, -1 when not counted (the
	// first page).
	Total int64
	// Days is how many day tables the range spans and Read how many had
	// to be read for the page (the others were skipped by their counts,
	// or not needed once the page was full).
	Days, Read int
	// Tables lists the day tables of the range.
	Tables []string
}

// dayPart is the part of the range within one day table.
type dayPart struct {
	table    string
	from, to time.Time
	count    int64
}

// whole reports whether the part covers its whole day.
func (p dayPart) whole() bool {
	return p.from.Hour() == 0 && p.from.Minute() == 0 && p.from.Second() == 0 && p.from.Nanosecond() == 0 &&
		p.to.Equal(p.from.AddDate(0, 0, 1))
}

// days splits [from, to) into day tables, newest first, keeping those that
// exist.
func days(letter byte, from, to time.Time, have map[string]bool) []dayPart {
	var out []dayPart
	day := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, to.Location())
	if day.Equal(to) {
		day = day.AddDate(0, 0, -1)
	}
	for ; day.Add(24 * time.Hour).After(from); day = day.AddDate(0, 0, -1) {
		next := day.AddDate(0, 0, 1)
		a, b := from, to
		if a.Before(day) {
			a = day
		}
		if b.After(next) {
			b = next
		}
		name := schema.DayTable(letter, day)
		if a.Before(b) && have[name] {
			out = append(out, dayPart{table: name, from: a, to: b})
		}
	}
	return out
}

const tsLayout = "2006-01-02 15:04:05.000000"

// query is a validated filter bound to the day tables that exist.
type query struct {
	parts   []dayPart
	columns []string
	whereOf func(dayPart) (string, []any)
	from    func(table string) string
}

func prepare(ctx context.Context, db *sql.DB, f *Filter) (*query, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	t, _ := schema.ByLetter(f.Table)
	tables, err := mariadb.Tables(ctx, db)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(tables))
	for _, n := range tables {
		have[n] = true
	}
	q := &query{parts: days(f.Table, f.From, f.To, have), from: f.from}
	for _, c := range t.Columns {
		if c.Stored() { // the seed's aliases (M's sport ...) would repeat columns
			q.columns = append(q.columns, c.Name)
		}
	}
	cond, args := f.where(t)
	// A part that is a whole day needs no time condition: without one,
	// an unfiltered COUNT(*) is MyISAM's stored row count, and the page
	// still walks the ts index backwards.
	q.whereOf = func(p dayPart) (string, []any) {
		w, a := cond, args
		if !p.whole() {
			w = append([]string{"`ts` >= ?", "`ts` < ?"}, cond...)
			a = append([]any{p.from.Format(tsLayout), p.to.Format(tsLayout)}, args...)
		}
		if len(w) == 0 {
			return "", nil
		}
		return " WHERE " + strings.Join(w, " AND "), a
	}
	return q, nil
}

// count fills the parts' counts.
func (q *query) count(ctx context.Context, db *sql.DB) (int64, error) {
	var total int64
	for i := range q.parts {
		w, a := q.whereOf(q.parts[i])
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+q.from(q.parts[i].table)+w, a...).Scan(&q.parts[i].count); err != nil {
			return 0, fmt.Errorf("count %s: %w", q.parts[i].table, err)
		}
		total += q.parts[i].count
	}
	return total, nil
}

// Count returns how many rows match f (the total of the pages), and the
// day tables counted.
func Count(ctx context.Context, db *sql.DB, f Filter) (int64, []string, error) {
	q, err := prepare(ctx, db, &f)
	if err != nil {
		return 0, nil, err
	}
	total, err := q.count(ctx, db)
	var tables []string
	for _, p := range q.parts {
		tables = append(tables, p.table)
	}
	return total, tables, err
}

// Run answers f: one page of rows. The first page is read without
// counting (Total is -1; Count gives it): newest day first, each with
// ORDER BY ts DESC LIMIT, stopping when the page is full, so it costs a
// walk of the ts index however many rows match in all. A later page
// counts the rows per day first, to skip whole days before it.
func Run(ctx context.Context, db *sql.DB, f Filter) (*Result, error) {
	q, err := prepare(ctx, db, &f)
	if err != nil {
		return nil, err
	}
	res := &Result{Days: len(q.parts), Columns: q.columns, Total: -1}
	for _, p := range q.parts {
		res.Tables = append(res.Tables, p.table)
	}
	counted := f.Page > 1
	if counted {
		if res.Total, err = q.count(ctx, db); err != nil {
			return nil, err
		}
	}
	skip := int64(f.Page-1) * int64(f.PageSize)
	want := int64(f.PageSize)
	cols := "`" + strings.Join(res.Columns, "`, `") + "`"
	for _, p := range q.parts {
		if want == 0 {
			break
		}
		if counted && skip >= p.count {
			skip -= p.count
			continue
		}
		w, a := q.whereOf(p)
		stmt := fmt.Sprintf("SELECT %s FROM %s%s ORDER BY `ts` DESC LIMIT %d, %d", cols, q.from(p.table), w, skip, want)
		n, err := readRows(ctx, db, stmt, a, p.table, res)
		if err != nil {
			return nil, err
		}
		res.Read++
		want -= n
		skip = 0
	}
	return res, nil
}

func readRows(ctx context.Context, db *sql.DB, q string, args []any, table string, res *Result) (int64, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("search %s: %w", table, err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		r, err := scanRow(rows, len(res.Columns))
		if err != nil {
			return n, fmt.Errorf("search %s: %w", table, err)
		}
		r.Day = table
		res.Rows = append(res.Rows, r)
		n++
	}
	return n, rows.Err()
}

// scanRow reads a row whose first two columns are id and gw. Times are
// written in local time as the files have them (2006-01-02 15:04:05.999999).
func scanRow(rows *sql.Rows, n int) (Row, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return Row{}, err
	}
	r := Row{Values: make([]string, n), Null: make([]bool, n)}
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			r.Null[i] = true
		case []byte:
			r.Values[i] = string(v)
		case time.Time:
			r.Values[i] = v.In(time.Local).Format(TimeLayout)
		default:
			r.Values[i] = fmt.Sprint(v)
		}
	}
	fmt.Sscan(r.Values[0], &r.ID)
	r.Gateway = r.Values[1]
	return r, nil
}

// TimeLayout is how times of rows are written.
const TimeLayout = "2006-01-02 15:04:05.999999"

// Get returns one row of a day table by its key, or sql.ErrNoRows.
func Get(ctx context.Context, db *sql.DB, day, gw string, id uint64) (*schema.Table, []string, Row, error) {
	t, _, err := schema.ParseDayTable(day, time.Local)
	if err != nil {
		return nil, nil, Row{}, err
	}
	var cols []string
	for _, c := range t.Columns {
		if c.Stored() {
			cols = append(cols, c.Name)
		}
	}
	q := "SELECT `" + strings.Join(cols, "`, `") + "` FROM " + mariadb.Quote(day) + " WHERE `gw` = ? AND `id` = ?"
	rows, err := db.QueryContext(ctx, q, gw, id)
	if err != nil {
		if mariadb.IsNoSuchTable(err) {
			return nil, nil, Row{}, sql.ErrNoRows
		}
		return nil, nil, Row{}, fmt.Errorf("read %s %s/%d: %w", day, gw, id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, nil, Row{}, err
		}
		return nil, nil, Row{}, sql.ErrNoRows
	}
	r, err := scanRow(rows, len(cols))
	if err != nil {
		return nil, nil, Row{}, err
	}
	r.Day = day
	return t, cols, r, nil
}

// Value returns the value of column col of r, given the columns.
func Value(cols []string, r Row, col string) string {
	for i, c := range cols {
		if c == col {
			return r.Values[i]
		}
	}
	return ""
}
