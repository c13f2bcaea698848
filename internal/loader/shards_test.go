package loader_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/testdb"
)

// writeGateway writes n rows of each letter for gateway g into sync_files.
func writeGateway(t testing.TB, root, g, letters string, n int, ts time.Time, seed uint64) {
	t.Helper()
	if err := rowgen.New(seed, false).WriteGateway(root, g, letters, n, ts); err != nil {
		t.Fatal(err)
	}
}

// rowsByGateway counts the rows of table per gateway on one server.
func rowsByGateway(t testing.TB, dsn, table string) map[string]int64 {
	t.Helper()
	set := shard.Open(shard.Single(dsn))
	defer set.Close()
	db, err := set.Default(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	rows, err := db.Query("SELECT gw, COUNT(*) FROM " + table + " GROUP BY gw")
	if err != nil {
		return out // no table: no rows
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var n int64
		if err := rows.Scan(&g, &n); err != nil {
			t.Fatal(err)
		}
		out[g] = n
	}
	return out
}

// TestShardedLoad: each gateway's rows go to its shard only (boundaries
// included), and a shard that is down holds back only its own gateways.
func TestShardedLoad(t *testing.T) {
	s := testdb.NewShards(t, 3, false)
	// 3 shards split at 55555555 and AAAAAAAA: a bound belongs to the
	// range above it, as in RANGE partitioning (VALUES LESS THAN).
	want := map[string]string{"00000001": "s0", "55555554": "s0", "55555555": "s1", "AAAAAAA9": "s1", "AAAAAAAA": "s2", "FFFFFFFF": "s2"}
	gws := slices.Sorted(func(yield func(string) bool) {
		for g := range want {
			if !yield(g) {
				return
			}
		}
	})
	root := t.TempDir()
	for i, g := range gws {
		writeGateway(t, root, g, "AQ", 100+i, t0, uint64(i))
	}
	set := shard.Open(s.Map)
	t.Cleanup(func() { set.Close() })
	l := newLoader(t, nil, loader.Config{Root: root, Keep: true, Shards: set})
	if res := runOnce(t, l); res.Files != 2*len(gws) {
		t.Fatalf("loaded %d files, want %d", res.Files, 2*len(gws))
	}
	table := "A" + t0.Format(schema.DayLayout)
	check := func(perGW func(i int) int64) {
		t.Helper()
		for si, in := range s.Shards {
			name := fmt.Sprintf("s%d", si)
			got := rowsByGateway(t, in.DSN, table)
			exp := map[string]int64{}
			for i, g := range gws {
				if want[g] == name {
					exp[g] = perGW(i)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(exp) {
				t.Errorf("shard %s holds %v, want %v", name, got, exp)
			}
		}
	}
	check(func(i int) int64 { return int64(100 + i) })

	// s1 goes down; a later window arrives for every gateway.
	s.Shards[1].Down()
	for i, g := range gws {
		writeGateway(t, root, g, "AQ", 10, t0.Add(10*time.Minute), uint64(100+i))
	}
	res, err := l.RunOnce(context.Background())
	var de *shard.DownError
	if !errors.As(err, &de) || fmt.Sprint(de.Shards) != "[s1]" {
		t.Fatalf("with s1 down: err %v, want a DownError naming s1", err)
	}
	if res.Files != 2*4 {
		t.Errorf("with s1 down %d files loaded, want the other shards' 8", res.Files)
	}
	s.Shards[1].Up()
	if res := runOnce(t, l); res.Files != 2*2 {
		t.Errorf("after s1 is back %d files loaded, want its 4", res.Files)
	}
	check(func(i int) int64 { return int64(110 + i) })
}
