package rollup_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/rollup"
)

func at(day, hh, mm, ss int) time.Time {
	return time.Date(2026, 11, day, hh, mm, ss, 0, time.Local)
}

func TestPlanQuery(t *testing.T) {
	cases := []struct {
		name  string
		q     rollup.Query
		want  []string // Part.String()
		isErr bool
	}{
		{"13-17 is four 1H buckets", rollup.Query{Table: 'F', By: "U", From: at(21, 13, 0, 0), To: at(21, 17, 0, 0)},
			[]string{"MidFU1H20261121 [2026-11-21 13:00:00, 2026-11-21 17:00:00) 4 bucket(s)"}, false},
		{"12-16 is one 4H bucket", rollup.Query{Table: 'F', By: "U", From: at(21, 12, 0, 0), To: at(21, 16, 0, 0)},
			[]string{"MidFU4H20261121 [2026-11-21 12:00:00, 2026-11-21 16:00:00) 1 bucket(s)"}, false},
		{"ragged edges", rollup.Query{Table: 'A', By: "A", From: at(21, 11, 7, 30), To: at(21, 21, 10, 0)},
			[]string{
				"A20261121 [2026-11-21 11:07:30, 2026-11-21 11:30:00) raw rows",
				"MidAA30M20261121 [2026-11-21 11:30:00, 2026-11-21 12:00:00) 1 bucket(s)",
				"MidAA4H20261121 [2026-11-21 12:00:00, 2026-11-21 20:00:00) 2 bucket(s)",
				"MidAA1H20261121 [2026-11-21 20:00:00, 2026-11-21 21:00:00) 1 bucket(s)",
				"A20261121 [2026-11-21 21:00:00, 2026-11-21 21:10:00) raw rows",
			}, false},
		{"inside one slot: raw only", rollup.Query{Table: 'U', By: "U", From: at(21, 13, 7, 0), To: at(21, 13, 20, 0)},
			[]string{"U20261121 [2026-11-21 13:07:00, 2026-11-21 13:20:00) raw rows"}, false},
		{"across midnight", rollup.Query{Table: 'T', By: "G", From: at(21, 22, 0, 0), To: at(22, 2, 30, 0)},
			[]string{
				"MidTG1H20261121 [2026-11-21 22:00:00, 2026-11-22 00:00:00) 2 bucket(s)",
				"MidTG1H20261122 [2026-11-22 00:00:00, 2026-11-22 02:00:00) 2 bucket(s)",
				"MidTG30M20261122 [2026-11-22 02:00:00, 2026-11-22 02:30:00) 1 bucket(s)",
			}, false},
		{"filter by user, group by app: the UA rollup", rollup.Query{Table: 'F', By: "A", Where: []rollup.Cond{{Dim: 'U', Value: "user001"}},
			From: at(21, 16, 0, 0), To: at(21, 20, 0, 0)},
			[]string{"MidFUA4H20261121 [2026-11-21 16:00:00, 2026-11-21 20:00:00) 1 bucket(s)"}, false},
		{"fewest dims: F by G uses FG, not FGA", rollup.Query{Table: 'F', By: "G", From: at(21, 0, 0, 0), To: at(21, 4, 0, 0)},
			[]string{"MidFG4H20261121 [2026-11-21 00:00:00, 2026-11-21 04:00:00) 1 bucket(s)"}, false},
		{"no rollup has GT: raw", rollup.Query{Table: 'F', By: "TG", From: at(21, 0, 0, 0), To: at(21, 4, 0, 0)},
			[]string{"F20261121 [2026-11-21 00:00:00, 2026-11-21 04:00:00) raw rows"}, false},
		{"U by app type: the UT rollup (seed 001)", rollup.Query{Table: 'U', By: "T", From: at(21, 8, 0, 0), To: at(21, 12, 0, 0)},
			[]string{"MidUT4H20261121 [2026-11-21 08:00:00, 2026-11-21 12:00:00) 1 bucket(s)"}, false},
		{"T has no app", rollup.Query{Table: 'T', By: "A", From: at(21, 0, 0, 0), To: at(21, 4, 0, 0)}, nil, true},
		{"empty interval", rollup.Query{Table: 'F', By: "U", From: at(21, 4, 0, 0), To: at(21, 4, 0, 0)}, nil, true},
		{"unknown measure", rollup.Query{Table: 'F', By: "U", OrderBy: "requests", From: at(21, 4, 0, 0), To: at(21, 5, 0, 0)}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pl, err := rollup.PlanQuery(c.q)
			if c.isErr {
				if err == nil {
					t.Fatalf("want an error, got plan %v", pl.Parts)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pl.Parts {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("parts:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

func rowsText(rows []rollup.Row) string {
	var b strings.Builder
	for _, r := range rows {
		for _, d := range r.Dims {
			if d.Valid {
				fmt.Fprintf(&b, "%q ", d.String)
			} else {
				b.WriteString("NULL ")
			}
		}
		fmt.Fprintln(&b, r.Sums)
	}
	return b.String()
}

// checkQueries answers queries from the rollups and from the raw rows
// alone, and wants the same rows.
func checkQueries(t *testing.T, db *sql.DB) {
	ctx := context.Background()
	cases := []struct {
		name        string
		q           rollup.Query
		wantBuckets int // rollup buckets read, none raw
	}{
		{"top 10 users by bytes_down 13-17", rollup.Query{Table: 'F', By: "U", From: at(21, 13, 0, 0), To: at(21, 17, 0, 0), OrderBy: "bytes_down", Top: 10}, 4},
		{"top apps 12-16", rollup.Query{Table: 'A', By: "A", From: at(21, 12, 0, 0), To: at(21, 16, 0, 0), Top: 5}, 1},
		{"online time of users of a group, one gateway", rollup.Query{Table: 'T', By: "U", Where: []rollup.Cond{{Dim: 'G', Value: "hq/it"}},
			Gateway: gw1, From: at(21, 8, 30, 0), To: at(21, 18, 0, 0), OrderBy: "online_seconds"}, 1 + 3 + 1 + 2},
		{"apps of the user named \\N", rollup.Query{Table: 'U', By: "A", Where: []rollup.Cond{{Dim: 'U', Value: `\N`}},
			From: at(21, 0, 0, 0), To: at(22, 0, 0, 0)}, 6},
		{"apps of addresses no config names", rollup.Query{Table: 'F', By: "A", Where: []rollup.Cond{{Dim: 'U', Null: true}},
			From: at(21, 6, 0, 0), To: at(21, 23, 0, 0)}, 2 + 3 + 3},
		{"ragged: per-IP web bytes", rollup.Query{Table: 'U', By: "I", From: at(21, 9, 12, 13), To: at(21, 15, 47, 1), OrderBy: "resp_body_bytes", Top: 7}, -1},
		{"web requests by app type, ragged (repeat counts summed)", rollup.Query{Table: 'U', By: "T", From: at(21, 7, 5, 0), To: at(21, 19, 0, 0), OrderBy: "requests"}, -1},
		{"total, no grouping", rollup.Query{Table: 'A', From: at(21, 1, 0, 0), To: at(21, 23, 30, 0)}, 3 + 4 + 3 + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pl, got, err := rollup.Answer(ctx, db, c.q)
			if err != nil {
				t.Fatal(err)
			}
			buckets, raw := 0, false
			for _, p := range pl.Parts {
				buckets += p.Buckets()
				raw = raw || p.Raw
			}
			if c.wantBuckets >= 0 && (raw || buckets != c.wantBuckets) {
				t.Errorf("read %d buckets (raw rows too: %v), want %d buckets only: %v", buckets, raw, c.wantBuckets, pl.Parts)
			}
			rq := c.q
			rq.RawOnly = true
			_, want, err := rollup.Answer(ctx, db, rq)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 || len(want) == 1 && want[0].Sums[0] == 0 {
				t.Fatalf("the raw answer is empty: a useless case")
			}
			if g, w := rowsText(got), rowsText(want); g != w {
				t.Errorf("from %v:\n%s\nfrom raw rows:\n%s", pl.Parts, g, w)
			}
		})
	}
}
