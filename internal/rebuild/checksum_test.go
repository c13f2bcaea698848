package rebuild_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

// TestCheckContent changes a table without changing its row counts, the
// ways a count check cannot see; -check must find each by its checksum and
// -check -repair must bring back exactly the rows of the sync_files.
func TestCheckContent(t *testing.T) {
	const gw2 = "0E0F1011"
	day := t0.Format(schema.DayLayout)
	for _, tt := range []struct {
		name   string
		letter byte
		sql    []string // %s is the table
		gws    []string // gateways whose contents differ
	}{
		{"value altered", 'A', []string{"UPDATE %s SET bytes_up = bytes_up + 1 WHERE gw = '" + gw + "' AND id = {a5}"}, []string{gw}},
		{"text altered", 'M', []string{"UPDATE %s SET mail_subject = CONCAT(IFNULL(mail_subject, ''), 'x') WHERE gw = '" + gw2 + "' AND id = {b9}"}, []string{gw2}},
		{"NULL for empty", 'Q', []string{"UPDATE %s SET answers = IF(answers IS NULL, '', NULL) WHERE gw = '" + gw + "' AND id = {a3}"}, []string{gw}},
		{"row deleted, stray row inserted", 'Q', []string{
			"DELETE FROM %s WHERE gw = '" + gw + "' AND id = {a7}",
			"INSERT INTO %[1]s SELECT id + 1000000, gw, ts, " + restColumns('Q') + " FROM %[1]s WHERE gw = '" + gw + "' AND id = {a8}",
		}, []string{gw}},
		{"gateways' rows swapped", 'U', []string{
			"UPDATE %s SET gw = 'FFFFFFFF' WHERE gw = '" + gw + "'",
			"UPDATE %s SET gw = '" + gw + "' WHERE gw = '" + gw2 + "'",
			"UPDATE %s SET gw = '" + gw2 + "' WHERE gw = 'FFFFFFFF'",
		}, []string{gw, gw2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := testdb.New(t)
			root := t.TempDir()
			for i, g := range []string{gw, gw2} {
				sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: g, MaxLoadBacklog: 1 << 30})
				if err != nil {
					t.Fatal(err)
				}
				gen := rowgen.New(uint64(20+i), true)
				for w := 0; w < 2; w++ {
					for j := 0; j < 50; j++ {
						tb, _ := schema.ByLetter(tt.letter)
						if err := gen.Row(sp, tb, t0.Add(time.Duration(w)*logfile.WindowLength+time.Duration(j)*time.Millisecond)); err != nil {
							t.Fatal(err)
						}
					}
					sp.Flush()
				}
				if err := sp.Close(); err != nil {
					t.Fatal(err)
				}
			}
			load(t, db, root)
			r := &rebuild.Rebuilder{Root: root, DB: db, Attempts: 1}
			if ms, err := r.Check(context.Background()); err != nil || len(ms) != 0 {
				t.Fatalf("check of a freshly loaded table: %v %v", ms, err)
			}
			name := string(tt.letter) + day
			// {a5} is the id of gateway gw's sixth row, {b9} of gw2's tenth.
			var subst []string
			for _, g := range []struct{ key, gw string }{{"a", gw}, {"b", gw2}} {
				rows, err := db.Query("SELECT id FROM "+name+" WHERE gw = ? ORDER BY id LIMIT 10", g.gw)
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; rows.Next(); i++ {
					var id string
					rows.Scan(&id)
					subst = append(subst, fmt.Sprintf("{%s%d}", g.key, i), id)
				}
				rows.Close()
			}
			for _, q := range tt.sql {
				q = strings.NewReplacer(append(subst, "%[1]s", name, "%s", name)...).Replace(q)
				res, err := db.Exec(q)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if n, _ := res.RowsAffected(); n == 0 {
					t.Fatalf("%s changed nothing", q)
				}
			}
			ms, err := r.Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				if m.Table != name || m.Files.Rows != 100 || m.Rows.Rows != 100 || !strings.Contains(m.String(), "contents differ") {
					t.Errorf("mismatch %v, want %s with 100 rows each side and different contents", m, name)
				}
				got = append(got, m.Gateway)
			}
			if strings.Join(got, ",") != strings.Join(tt.gws, ",") {
				t.Fatalf("check found %v, want gateways %v", ms, tt.gws)
			}
			results, err := r.Repair(context.Background(), ms)
			if err != nil || len(results) != 1 || results[0].Rows != 200 {
				t.Fatalf("repair: %+v %v, want one table rebuilt with 200 rows", results, err)
			}
			if ms, err := r.Check(context.Background()); err != nil || len(ms) != 0 {
				t.Fatalf("check after repair: %v %v", ms, err)
			}
		})
	}
}

// TestRowSumMatchesServer: on every log table with nasty text (escapes,
// NULLs, bytes that are not UTF-8), the checksum the reader computes from
// the files equals the one the server computes over the loaded rows.
func TestRowSumMatchesServer(t *testing.T) {
	db, _, root := setup(t, schema.ShipOrder, 40)
	days, err := rebuild.Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2*len(schema.ShipOrder) {
		t.Fatalf("%d day tables in the files", len(days))
	}
	for name, d := range days {
		sums, err := rebuild.TableSums(context.Background(), db, d.Table, name)
		if err != nil {
			t.Fatal(err)
		}
		f := rebuild.FileSum(d.Table, gw, d.Files[gw])
		if f.Rows != 120 || sums[gw] != f {
			t.Errorf("%s: files %+v, table %+v", name, f, sums[gw])
		}
	}
}
