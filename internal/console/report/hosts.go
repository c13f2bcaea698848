package report

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/schema"
)

// runHosts answers the top hosts and URLs from the raw U day tables: no
// rollup has the host, and a rollup of every URL would be as large as the
// table. The scan is one GROUP BY per day over the ts range.
func runHosts(ctx context.Context, db *sql.DB, r Request) (*Report, error) {
	tables, err := mariadb.Tables(ctx, db)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(tables))
	for _, t := range tables {
		have[t] = true
	}
	from := r.FromSQL
	if from == nil {
		from = mariadb.Quote
	}
	key := "`host`"
	if r.Kind.Name == "urls" {
		key = "CONCAT(COALESCE(`host`, ''), SUBSTRING_INDEX(COALESCE(`uri`, ''), '?', 1))"
	}
	var subs []string
	var args []any
	rep := &Report{}
	for day := time.Date(r.From.Year(), r.From.Month(), r.From.Day(), 0, 0, 0, 0, r.From.Location()); day.Before(r.To); day = day.AddDate(0, 0, 1) {
		a, b := r.From, r.To
		if a.Before(day) {
			a = day
		}
		if next := day.AddDate(0, 0, 1); b.After(next) {
			b = next
		}
		name := schema.DayTable('U', day)
		rep.Parts = append(rep.Parts, rollup.Part{Table: name, Raw: true, From: a, To: b, Missing: !have[name]})
		if !have[name] {
			continue
		}
		w, dayArgs := hostsWhere(r, a, b)
		args = append(args, dayArgs...)
		subs = append(subs, fmt.Sprintf("SELECT %s AS `k`, SUM(`repeat_count`) AS `requests`, SUM(`resp_body_bytes`) AS `resp_body_bytes` FROM %s WHERE %s GROUP BY `k`",
			key, from(name), strings.Join(w, " AND ")))
	}
	col := strings.TrimSuffix(r.Kind.Name, "s")
	rep.Header = []string{col, "requests", "resp_body_bytes"}
	rep.Measures = []string{"requests", "resp_body_bytes"}
	s := Series{Name: "requests"}
	if len(subs) > 0 {
		if err := topHosts(ctx, db, r, subs, args, rep, &s); err != nil {
			return nil, err
		}
	}
	rep.Series = []Series{s}
	return rep, nil
}

// hostsWhere is the WHERE of one day's scan, from a to b, and its args:
// the request's gateway and scope.
func hostsWhere(r Request, a, b time.Time) ([]string, []any) {
	var args []any
	w := []string{"`ts` >= ?", "`ts` < ?"}
	args = append(args, a.Format(tsLayout), b.Format(tsLayout))
	if r.Gateway != "" {
		w = append(w, "`gw` = ?")
		args = append(args, r.Gateway)
	}
	for _, sc := range []struct {
		col string
		vs  []string
	}{{"gw", r.ScopeGateways}, {"grp", r.ScopeGroups}} {
		if len(sc.vs) > 0 {
			w = append(w, "`"+sc.col+"` IN (?"+strings.Repeat(", ?", len(sc.vs)-1)+")")
			for _, v := range sc.vs {
				args = append(args, []byte(v))
			}
		}
	}
	return w, args
}

// topHosts runs the days' scans (subs, with args) as one query and adds
// the top r.Top to rep and s.
func topHosts(ctx context.Context, db *sql.DB, r Request, subs []string, args []any, rep *Report, s *Series) error {
	q := "SELECT `k`, CAST(SUM(`requests`) AS UNSIGNED), CAST(COALESCE(SUM(`resp_body_bytes`), 0) AS UNSIGNED) FROM (" +
		strings.Join(subs, " UNION ALL ") + fmt.Sprintf(") x GROUP BY `k` ORDER BY 2 DESC, 1 LIMIT %d", r.Top)
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("top %s: %w", r.Kind.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k sql.NullString
		var n, bytes uint64
		if err := rows.Scan(&k, &n, &bytes); err != nil {
			return fmt.Errorf("top %s: %w", r.Kind.Name, err)
		}
		name := "(none)"
		if k.Valid {
			name = k.String
		}
		rep.Categories = append(rep.Categories, name)
		s.Data = append(s.Data, n)
		rep.Rows = append(rep.Rows, []string{name, strconv.FormatUint(n, 10), strconv.FormatUint(bytes, 10)})
	}
	return rows.Err()
}

const tsLayout = "2006-01-02 15:04:05.000000"
