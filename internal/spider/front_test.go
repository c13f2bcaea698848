package spider_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/spider"
	"github.com/acstore/acstore/internal/testdb"
)

var t0 = time.Date(2026, 11, 21, 13, 0, 0, 0, time.Local)

func writeGateway(t testing.TB, root, g, letters string, n int, ts time.Time, seed uint64) {
	t.Helper()
	if err := rowgen.New(seed, true).WriteGateway(root, g, letters, n, ts); err != nil {
		t.Fatal(err)
	}
}

// TestFront: the front's Spider tables answer like one server holding
// every row, and with a shard down the front still answers from the
// partitions of the shards that are up and names the missing one.
func TestFront(t *testing.T) {
	ctx := context.Background()
	sh := testdb.NewShards(t, 3, true)
	one, _ := testdb.New(t) // one server holding everything
	root := t.TempDir()
	gws := []string{"10000000", "20000000", "60000000", "B0000000", "F0000000"}
	for i, g := range gws {
		writeGateway(t, root, g, "AUM", 200+50*i, t0, uint64(i+1))
	}
	set := shard.Open(sh.Map)
	t.Cleanup(func() { set.Close() })
	front, err := spider.New(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { front.Close() })
	ls, err := loader.New(loader.Config{Root: root, Keep: true, KeepDays: 30, Shards: set, Front: front}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	if _, err := ls.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// The same sync_files into one server: the reference.
	if _, err := (&rebuild.Rebuilder{Root: root, DB: one}).All(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// Rollups: each gateway's on its shard, and the same on the one server.
	shardedState := t.TempDir()
	for _, c := range []struct {
		set   *shard.Set
		state string
	}{{set, shardedState}, {shard.Of(one), t.TempDir()}} {
		r, err := rollup.New(rollup.Config{Root: root, StateDir: c.state, Shards: c.set}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := front.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fdb, err := front.DB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	day := t0.Format(schema.DayLayout)
	// Every shard holds its gateways' rows, and only them.
	for i, in := range sh.Shards {
		name := fmt.Sprintf("s%d", i)
		for _, g := range gws {
			want := int64(0)
			if sh.Map.For(g, day) == name {
				want = count(t, one, "A"+day, g)
			}
			db, _ := set.DB(ctx, name)
			if got := count(t, db, "A"+day, g); got != want {
				t.Errorf("shard %s (%s) holds %d A rows of %s, want %d", name, in.DSN, got, g, want)
			}
		}
	}
	// The front finds each gateway's rows by `gw = X`, in upper or lower
	// case (the ascii collation compares without case), as on one server.
	for _, g := range gws {
		for _, spelt := range []string{g, strings.ToLower(g)} {
			if got, want := count(t, fdb, "A"+day, spelt), count(t, one, "A"+day, g); got != want || want == 0 {
				t.Errorf("front: %d A rows with gw = %q, one server %d", got, spelt, want)
			}
		}
	}
	// The front's partitions are the map's ranges, in order.
	var wantParts []string
	for i, r := range sh.Map.Version(day) {
		bound := "MAXVALUE"
		if r.Below != "" {
			bound = "'" + r.Below + "'"
		}
		wantParts = append(wantParts, "["+spider.PartitionName(i, r.Shard)+" "+bound+"]")
	}
	if got := rowsText(t, fdb, "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS "+
		"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'A"+day+"' ORDER BY PARTITION_ORDINAL_POSITION"); got != strings.Join(wantParts, "") {
		t.Errorf("front partitions %s, want %s", got, strings.Join(wantParts, ""))
	}
	// Reports through the front equal those of the one server.
	queries := []rollup.Query{
		{Table: 'A', By: "U", From: t0, To: t0.Add(time.Hour), RawOnly: true, Top: 20},
		{Table: 'A', By: "T", From: t0, To: t0.Add(time.Hour), RawOnly: true},
		{Table: 'U', By: "G", From: t0, To: t0.Add(time.Hour), RawOnly: true},
		{Table: 'A', From: t0, To: t0.Add(time.Hour), RawOnly: true},
		{Table: 'A', By: "U", From: t0, To: t0.Add(time.Hour), Top: 20},
		{Table: 'U', By: "T", From: t0.Add(-3 * time.Hour), To: t0.Add(5 * time.Hour)},
	}
	for _, q := range queries {
		_, want, err := rollup.Answer(ctx, one, q)
		if err != nil {
			t.Fatal(err)
		}
		pl, got, missing, err := front.Answer(ctx, q)
		for _, p := range pl.Parts {
			if p.Missing && !p.Raw {
				t.Errorf("%c by %q: rollup %s missing on the front", q.Table, q.By, p.Table)
			}
		}
		if err != nil || missing != nil {
			t.Fatalf("front %c by %q: %v (missing %v)", q.Table, q.By, err, missing)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
			t.Errorf("%c by %q: front %v, one server %v", q.Table, q.By, got, want)
		}
	}
	for _, stmt := range []string{
		"SELECT gw, COUNT(*), SUM(LENGTH(`mail_subject`)), SUM(LENGTH(`mail_subject`)) / COUNT(*) FROM `M" + day + "` GROUP BY gw ORDER BY gw",
		"SELECT COUNT(*) FROM `U" + day + "`",
	} {
		if got, want := rowsText(t, fdb, stmt), rowsText(t, one, stmt); got != want || want == "" {
			t.Errorf("%s:\nfront      %s\none server %s", stmt, got, want)
		}
	}

	// s1 down: the front answers from s0 and s2 and says s1 is missing.
	sh.Shards[1].Kill()
	q := rollup.Query{Table: 'A', From: t0, To: t0.Add(time.Hour), RawOnly: true}
	begin := time.Now()
	_, got, missing, err := front.Answer(ctx, q)
	if err != nil || fmt.Sprint(missing) != "[s1]" {
		t.Fatalf("with s1 down: err %v, missing %v; want an answer missing s1", err, missing)
	}
	if d := time.Since(begin); d > 2*spider.ConnectTimeout*time.Second {
		t.Errorf("with s1 down the answer took %v", d)
	}
	var want []uint64
	for _, g := range gws {
		if sh.Map.For(g, day) == "s1" {
			continue
		}
		q.Gateway = g
		_, rows, err := rollup.Answer(ctx, one, q)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = make([]uint64, len(rows[0].Sums))
		}
		for i, v := range rows[0].Sums {
			want[i] += v
		}
	}
	if fmt.Sprint(got[0].Sums) != fmt.Sprint(want) {
		t.Errorf("with s1 down the front sums %v, want the other shards' %v", got[0].Sums, want)
	}
	// midtable with s1 down: the other shards' gateways are rolled up.
	late := t0.Add(30 * time.Minute)
	for i, g := range gws {
		writeGateway(t, root, g, "A", 50, late, uint64(50+i))
	}
	r, err := rollup.New(rollup.Config{Root: root, StateDir: shardedState, Shards: set}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.RunOnce(ctx)
	var de *shard.DownError
	if !errors.As(err, &de) || fmt.Sprint(de.Shards) != "[s1]" {
		t.Errorf("midtable with s1 down: %v, want a DownError naming s1", err)
	}
	ag, _ := rollup.Lookup("AG")
	for _, g := range gws {
		if sh.Map.For(g, day) == "s1" {
			continue
		}
		db, _ := set.DB(ctx, sh.Map.For(g, day))
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM "+mariadb.Quote(ag.Table(rollup.Periods()[2], day))+" WHERE gw = ? AND bucket = ?", g, late).Scan(&n); err != nil || n == 0 {
			t.Errorf("with s1 down, no 30M rollup of %s's late window on its shard (%v)", g, err)
		}
	}
	sh.Shards[1].Up()

	// Retention drops the day on the shards and the front.
	if err := ls.Retention(ctx, t0.AddDate(0, 0, 400)); err != nil {
		t.Fatal(err)
	}
	if n := rowsText(t, fdb, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '%"+day+"'"); n != "[0]" {
		t.Errorf("front tables of %s after retention: %s", day, n)
	}
}

func count(t testing.TB, db *sql.DB, table, gw string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow("SELECT COUNT(*) FROM `"+table+"` WHERE gw = ?", gw).Scan(&n); err != nil {
		if mariadb.IsNoSuchTable(err) {
			return 0
		}
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// rowsText runs stmt and returns its rows as text.
func rowsText(t testing.TB, db *sql.DB, stmt string) string {
	t.Helper()
	rows, err := db.Query(stmt)
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		line := make([]string, len(cols))
		for i, v := range vals {
			line[i] = v.String
		}
		out = append(out, "["+strings.Join(line, " ")+"]")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, "")
}
