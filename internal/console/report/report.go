package report

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rollup"
)

// Kind is a report the console offers.
type Kind struct {
	Name   string // URL name
	Table  byte   // rollup source; 0 for the raw-table reports
	By     string // dimension letters offered, the first the default
	Chart  string // bar or line
	Labels [2]string
}

// Kinds lists the reports.
var Kinds = []Kind{
	{"traffic", 'A', "UGATI", "bar", [2]string{"Traffic (sessions)", "流量（会话）"}},
	{"flows", 'F', "UGATI", "bar", [2]string{"Traffic (per-minute flows)", "流量（分钟流量）"}},
	{"trend", 'A', "", "line", [2]string{"Traffic trend", "流量趋势"}},
	{"online", 'T', "UGI", "bar", [2]string{"Online time", "在线时长"}},
	{"web", 'U', "UGAI", "bar", [2]string{"Web requests", "网页访问"}},
	{"hosts", 0, "", "bar", [2]string{"Top hosts", "热门网站"}},
	{"urls", 0, "", "bar", [2]string{"Top URLs", "热门网址"}},
}

// KindByName returns a report kind.
func KindByName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Request is one report asked for.
type Request struct {
	Kind     Kind
	By       byte // dimension to group by (bar reports)
	Measure  string
	From, To time.Time
	Gateway  string
	Top      int
	// Scope limits an auditor (empty: all).
	ScopeGateways, ScopeGroups []string
	// FromSQL, when set, gives what a statement reads a table as (a
	// Spider front's partitions of the shards that are up); see
	// rollup.Query.FromSQL.
	FromSQL func(table string) string `json:"-"`
}

// Series is one line or set of bars.
type Series struct {
	Name string   `json:"name"`
	Data []uint64 `json:"data"`
}

// Report is an answered request: a chart (categories and series), the
// same as a table, and the tables read.
type Report struct {
	Request    Request
	Categories []string
	Series     []Series
	Header     []string
	Rows       [][]string
	Parts      []rollup.Part
	Measures   []string
	Elapsed    time.Duration
}

// MaxSpan bounds a report's interval.
const MaxSpan = 366 * 24 * time.Hour

// Validate checks r.
func (r *Request) Validate() error {
	if !r.From.Before(r.To) {
		return fmt.Errorf("empty interval")
	}
	if r.To.Sub(r.From) > MaxSpan {
		return fmt.Errorf("interval longer than a year")
	}
	if r.Gateway != "" && !logfile.ValidGateway(r.Gateway) {
		return fmt.Errorf("gateway %q: want 8 upper-case hex digits", r.Gateway)
	}
	if r.Top <= 0 || r.Top > 1000 {
		r.Top = 10
	}
	if r.Kind.Table != 0 {
		src, _ := rollup.SourceByLetter(r.Kind.Table)
		if r.Measure == "" {
			r.Measure = src.Measures[0].Column
			if r.Kind.Table == 'A' || r.Kind.Table == 'F' {
				r.Measure = "bytes_down"
			}
		}
		if !slices.ContainsFunc(src.Measures, func(m rollup.Measure) bool { return m.Column == r.Measure }) {
			return fmt.Errorf("report %s has no measure %q", r.Kind.Name, r.Measure)
		}
		if r.Kind.By != "" {
			if r.By == 0 {
				r.By = r.Kind.By[0]
			}
			if !slices.Contains([]byte(r.Kind.By), r.By) {
				return fmt.Errorf("report %s cannot group by %q (it can by %s)", r.Kind.Name, string(r.By), r.Kind.By)
			}
		}
	}
	return nil
}

// Run answers r.
func Run(ctx context.Context, db *sql.DB, r Request) (*Report, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	var rep *Report
	var err error
	switch {
	case r.Kind.Table == 0:
		rep, err = runHosts(ctx, db, r)
	case r.Kind.By == "":
		rep, err = runTrend(ctx, db, r)
	default:
		rep, err = runTop(ctx, db, r)
	}
	if err != nil {
		return nil, err
	}
	rep.Request = r
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func measureIndex(src *rollup.Source, col string) int {
	return slices.IndexFunc(src.Measures, func(m rollup.Measure) bool { return m.Column == col })
}

func (r Request) query(from, to time.Time, by string) rollup.Query {
	return rollup.Query{Table: r.Kind.Table, By: by, Gateway: r.Gateway, From: from, To: to, OrderBy: r.Measure, Top: r.Top, FromSQL: r.FromSQL}
}

func runTop(ctx context.Context, db *sql.DB, r Request) (*Report, error) {
	var qs []labeled
	for _, q := range scoped(r.query(r.From, r.To, string(r.By)), r.ScopeGateways, r.ScopeGroups) {
		qs = append(qs, labeled{0, q})
	}
	ans, parts, pl, err := run(ctx, db, qs, 1)
	if err != nil {
		return nil, err
	}
	src := pl.Source
	mi := measureIndex(src, r.Measure)
	rep := &Report{Parts: parts}
	d, _ := rollup.DimByLetter(r.By)
	rep.Header = []string{d.Column}
	for _, m := range src.Measures {
		rep.Header = append(rep.Header, m.Column)
		rep.Measures = append(rep.Measures, m.Column)
	}
	// The chart shows the measure asked for; the table and CSV all of them.
	s := Series{Name: r.Measure}
	for _, row := range ans[0].sorted(mi, r.Top) {
		name := "(none)"
		if row.Dims[0].Valid {
			name = row.Dims[0].String
		}
		rep.Categories = append(rep.Categories, name)
		s.Data = append(s.Data, row.Sums[mi])
		line := []string{name}
		for _, v := range row.Sums {
			line = append(line, strconv.FormatUint(v, 10))
		}
		rep.Rows = append(rep.Rows, line)
	}
	rep.Series = []Series{s}
	return rep, nil
}

// Step returns the trend's bucket for an interval: hours up to two days,
// days beyond.
func Step(from, to time.Time) time.Duration {
	if to.Sub(from) <= 48*time.Hour {
		return time.Hour
	}
	return 24 * time.Hour
}

func runTrend(ctx context.Context, db *sql.DB, r Request) (*Report, error) {
	step := Step(r.From, r.To)
	var qs []labeled
	var starts []time.Time
	for t := r.From; t.Before(r.To); {
		next := t.Add(step)
		if step == 24*time.Hour {
			next = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
		}
		if next.After(r.To) {
			next = r.To
		}
		for _, q := range scoped(r.query(t, next, ""), r.ScopeGateways, r.ScopeGroups) {
			qs = append(qs, labeled{len(starts), q})
		}
		starts = append(starts, t)
		t = next
	}
	ans, parts, pl, err := run(ctx, db, qs, len(starts))
	if err != nil {
		return nil, err
	}
	rep := &Report{Parts: parts}
	layout := "01-02 15:04"
	if step == 24*time.Hour {
		layout = "2006-01-02"
	}
	rep.Header = []string{"from"}
	for _, m := range pl.Source.Measures {
		rep.Header = append(rep.Header, m.Column)
		rep.Measures = append(rep.Measures, m.Column)
	}
	series := make([]Series, 2)
	series[0].Name, series[1].Name = "bytes_up", "bytes_down"
	iu, id := measureIndex(pl.Source, "bytes_up"), measureIndex(pl.Source, "bytes_down")
	for i, t := range starts {
		sums := make([]uint64, len(pl.Source.Measures))
		for _, row := range ans[i].rows {
			for j, v := range row.Sums {
				sums[j] += v
			}
		}
		rep.Categories = append(rep.Categories, t.Format(layout))
		series[0].Data = append(series[0].Data, sums[iu])
		series[1].Data = append(series[1].Data, sums[id])
		line := []string{t.Format(time.DateTime)}
		for _, v := range sums {
			line = append(line, strconv.FormatUint(v, 10))
		}
		rep.Rows = append(rep.Rows, line)
	}
	rep.Series = series
	return rep, nil
}
