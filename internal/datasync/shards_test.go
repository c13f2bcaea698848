package datasync_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/spider"
	"github.com/acstore/acstore/internal/testdb"
)

// TestShardedHeadOffice: two branches' gateways (two appliances each)
// push to a head office of three shards and a Spider front. Every shard
// holds exactly its gateways' rows, the front answers as one server
// holding everything, and a shard killed with kill -9 in the middle of
// loading holds back only its own gateways: once it is back, every row is
// there exactly once.
func TestShardedHeadOffice(t *testing.T) {
	ctx := context.Background()
	sh := testdb.NewShards(t, 3, true)
	set := shard.Open(sh.Map)
	t.Cleanup(func() { set.Close() })
	front, err := spider.New(set, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { front.Close() })
	// Branch 1 has appliances 1A.. and 6C.., branch 2 9D.. and FE..; the
	// shards split at 55555555 and AAAAAAAA.
	gws := []string{"1A000001", "6C000003", "9D000004", "FE000006"}
	secrets := map[string]string{}
	for _, g := range gws {
		secrets[g] = "secret-of-" + g + "-0123456789"
	}
	hoRoot := t.TempDir()
	srv := startServer(t, hoRoot, nil, nil, func(c *datasync.ServerConfig) {
		c.Gateways, c.Shards, c.Front = secrets, set, front
	})
	roots := map[string]string{}
	for i, g := range gws {
		roots[g] = t.TempDir()
		branch(t, roots[g], g, uint64(i+1), 40, logfile.LZ4)
		cfg := clientConfig(t, roots[g], g, srv.URL, nil)
		cfg.Secret = secrets[g]
		push(t, cfg)
	}
	loadAll(t, srv)
	checkShards(t, set, sh.Map, roots)

	// The front answers as one server holding every row.
	one, _ := testdb.New(t)
	if _, err := (&rebuild.Rebuilder{Root: hoRoot, DB: one}).All(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range []rollup.Query{
		{Table: 'A', By: "U", From: t0.Add(-14 * time.Hour), To: t0.Add(time.Hour), RawOnly: true},
		{Table: 'U', By: "G", From: t0, To: t0.Add(time.Hour), RawOnly: true},
		{Table: 'F', By: "A", From: t0, To: t0.Add(time.Hour), Top: 5, RawOnly: true},
	} {
		_, want, err := rollup.Answer(ctx, one, q)
		if err != nil {
			t.Fatal(err)
		}
		_, got, missing, err := front.Answer(ctx, q)
		if err != nil || missing != nil {
			t.Fatalf("front: %v, missing %v", err, missing)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
			t.Errorf("%c by %q: front %v, one server %v", q.Table, q.By, got, want)
		}
	}

	// A later window, bigger, and new config tables for every gateway; s0
	// (1A.., and the config tables) is killed while it loads.
	late := t0.Add(20 * time.Minute)
	for i, g := range gws {
		sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: roots[g], Gateway: g, HighPerformance: true})
		if err != nil {
			t.Fatal(err)
		}
		writeInto(t, sp, late, uint64(100+i), 1500)
		if err := sp.Close(); err != nil {
			t.Fatal(err)
		}
		writeConfig(t, roots[g], g, 1)
	}
	s0, err := set.DB(ctx, "s0")
	if err != nil {
		t.Fatal(err)
	}
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		for _, g := range gws {
			cfg := clientConfig(t, roots[g], g, srv.URL, nil)
			cfg.Secret = secrets[g]
			c, err := datasync.NewClient(cfg)
			if err == nil {
				err = c.RunOnce(ctx)
				c.Close()
			}
			if err != nil {
				t.Errorf("push %s: %v", g, err)
			}
		}
	}()
	caught := false
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !caught; {
		var n int
		s0.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOAD DATA%'").Scan(&n)
		caught = n > 0
	}
	sh.Shards[0].Kill()
	t.Logf("s0 killed with a LOAD DATA in flight: %v", caught)
	if !caught {
		t.Error("no LOAD DATA seen on s0 in a minute")
	}
	<-pushed
	// The other shards go on: s1 and s2 get all their rows while s0 (and
	// the config tables) is down.
	err = srv.LoadOnce(ctx)
	t.Logf("load with s0 down: %v", err)
	checkShards(t, set, sh.Map, map[string]string{gws[1]: roots[gws[1]], gws[2]: roots[gws[2]], gws[3]: roots[gws[3]]}, "s1", "s2")
	sh.Shards[0].Up()
	// s0's gateway backs off after its failures, and so do the config
	// loads of every gateway (config tables live on s0); each loads
	// within its backoff.
	for deadline := time.Now().Add(2 * time.Minute); len(shardProblems(t, set, sh.Map, roots))+len(configProblems(t, s0, roots)) > 0; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
		srv.LoadOnce(ctx)
	}
	checkShards(t, set, sh.Map, roots)
	// The new config tables reached the default shard.
	for _, p := range configProblems(t, s0, roots) {
		t.Error(p)
	}
}

// configProblems compares each gateway's config tables on the default
// shard db with its branch's config files.
func configProblems(t *testing.T, db *sql.DB, roots map[string]string) []string {
	var out []string
	for _, g := range slices.Sorted(maps.Keys(roots)) {
		for _, tb := range schema.ConfigTables() {
			want := configDigest(t, filepath.Join(roots[g], "config", tb.Name+".tsv"))
			if got := tableDigest(t, db, tb.Name, tb.FileColumns(), g); *got != *want {
				out = append(out, fmt.Sprintf("config %s of %s: %d rows, want %d (or different bytes)", tb.Name, g, got.rows, want.rows))
			}
		}
	}
	return out
}

// checkShards asserts that each gateway's rows are, exactly, on its shard
// and on no other (of only, when given): per day table, the rows of its
// sync_files.
func checkShards(t testing.TB, set *shard.Set, m *shard.Map, roots map[string]string, only ...string) {
	t.Helper()
	for _, p := range shardProblems(t, set, m, roots, only...) {
		t.Error(p)
	}
}

func shardProblems(t testing.TB, set *shard.Set, m *shard.Map, roots map[string]string, only ...string) []string {
	t.Helper()
	var out []string
	ctx := context.Background()
	gws := make([]string, 0, len(roots))
	for g := range roots {
		gws = append(gws, g)
	}
	sort.Strings(gws)
	for _, g := range gws {
		want := fileDigests(t, roots[g], g)
		for name, d := range want {
			tb, _, err := schema.ParseDayTable(name, time.Local)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range m.Names() {
				if only != nil && !slices.Contains(only, s) {
					continue
				}
				db, err := set.DB(ctx, s)
				if err != nil {
					t.Fatal(err)
				}
				got := &digest{}
				if has(t, db, name) {
					got = tableDigest(t, db, name, tb.FileColumns(), g)
				}
				exp := &digest{}
				if m.For(g, name[1:]) == s {
					exp = d
				}
				if *got != *exp {
					out = append(out, fmt.Sprintf("shard %s %s gw %s: %d rows (sum %x), want %d (sum %x)", s, name, g, got.rows, got.sum, exp.rows, exp.sum))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func has(t testing.TB, db *sql.DB, table string) bool {
	t.Helper()
	tables, err := mariadb.Tables(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tables {
		if n == table {
			return true
		}
	}
	return false
}
