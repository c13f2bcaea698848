// Package report answers the console's reports from midtable's rollups
// through its planner (internal/rollup): traffic by user, group, app and
// app type, top N, trends over hours and days, online time, web use; and
// top hosts and URLs from the raw U tables, which no rollup covers. Every
// report says which tables it read (the planner's parts), and can be
// written as CSV.
//
// An auditor limited to some gateways or groups gets one planner query per
// allowed gateway and group, merged here: the planner then still picks a
// rollup that has the group dimension (FGU, AGA, TGU, ...), or the raw
// tables when none has.
package report

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rollup"
)

// labeled is one planner query whose rows count towards label.
type labeled struct {
	label int
	q     rollup.Query
}

// answer is the merged rows of the queries of one label.
type answer struct {
	rows map[string]*rollup.Row
}

// scoped expands q into one query per gateway and group the scope allows
// (a single query when it allows everything).
func scoped(q rollup.Query, gateways, groups []string) []rollup.Query {
	gws := []string{q.Gateway}
	if q.Gateway == "" && len(gateways) > 0 {
		gws = gateways
	}
	var out []rollup.Query
	for _, gw := range gws {
		if len(groups) == 0 {
			q2 := q
			q2.Gateway = gw
			out = append(out, q2)
			continue
		}
		for _, g := range groups {
			q2 := q
			q2.Gateway = gw
			q2.Where = append(append([]rollup.Cond(nil), q.Where...), rollup.Cond{Dim: 'G', Value: g})
			out = append(out, q2)
		}
	}
	if len(out) > 1 {
		for i := range out {
			out[i].Top = 0 // the top N is taken after merging
		}
	}
	return out
}

// run answers every query in one statement (a UNION ALL of the planner's
// statements, each labelled) and returns the merged rows per label and the
// parts read.
func run(ctx context.Context, db *sql.DB, qs []labeled, nlabels int) ([]answer, []rollup.Part, *rollup.Plan, error) {
	tables, err := mariadb.Tables(ctx, db)
	if err != nil {
		return nil, nil, nil, err
	}
	have := make(map[string]bool, len(tables))
	for _, t := range tables {
		have[t] = true
	}
	exist := func(t string) bool { return have[t] }
	var stmts []string
	var args []any
	var parts []rollup.Part
	seen := map[string]bool{}
	var first *rollup.Plan
	for _, lq := range qs {
		pl, err := rollup.PlanQuery(lq.q)
		if err != nil {
			return nil, nil, nil, err
		}
		if first == nil {
			first = &pl
		}
		for _, p := range pl.Parts {
			p.Missing = !have[p.Table]
			k := p.String()
			if !seen[k] {
				seen[k] = true
				parts = append(parts, p)
			}
		}
		s, a := pl.SQL(lq.q, exist)
		if s == "" {
			continue
		}
		stmts = append(stmts, fmt.Sprintf("SELECT %d AS `_label`, x.* FROM (%s) x", lq.label, s))
		args = append(args, a...)
	}
	out := make([]answer, nlabels)
	for i := range out {
		out[i].rows = make(map[string]*rollup.Row)
	}
	if len(stmts) == 0 {
		return out, parts, first, nil
	}
	rows, err := db.QueryContext(ctx, strings.Join(stmts, "\nUNION ALL\n"), args...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("report query: %w", err)
	}
	defer rows.Close()
	if err := mergeRows(rows, out, len(first.Dims), len(first.Source.Measures)); err != nil {
		return nil, nil, nil, err
	}
	return out, parts, first, rows.Err()
}

// mergeRows scans rows of nd dimensions and nm measures, each labelled,
// into out, adding up the sums of rows of the same label and dimensions.
func mergeRows(rows *sql.Rows, out []answer, nd, nm int) error {
	for rows.Next() {
		var label int
		r := rollup.Row{Dims: make([]sql.NullString, nd), Sums: make([]uint64, nm)}
		ptrs := []any{&label}
		for i := range r.Dims {
			ptrs = append(ptrs, &r.Dims[i])
		}
		for i := range r.Sums {
			ptrs = append(ptrs, &r.Sums[i])
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("report query: %w", err)
		}
		key := dimKey(r.Dims)
		if old := out[label].rows[key]; old != nil {
			for i := range r.Sums {
				old.Sums[i] += r.Sums[i]
			}
		} else {
			out[label].rows[key] = &r
		}
	}
	return nil
}

func dimKey(ds []sql.NullString) string {
	var b strings.Builder
	for _, d := range ds {
		if d.Valid {
			b.WriteString("v" + d.String)
		} else {
			b.WriteString("n")
		}
		b.WriteByte(0)
	}
	return b.String()
}

// sorted returns the rows by measure m descending, ties by dimensions, at
// most top (0: all).
func (a answer) sorted(m, top int) []rollup.Row {
	out := make([]rollup.Row, 0, len(a.rows))
	for _, r := range a.rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Sums[m] != out[j].Sums[m] {
			return out[i].Sums[m] > out[j].Sums[m]
		}
		return dimKey(out[i].Dims) < dimKey(out[j].Dims)
	})
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}
