package loader_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/syncbuf"
	"github.com/acstore/acstore/internal/testdb"
)

// TestShardMapReload: a running loader takes a new shard map from its
// file without a restart. A map that would move a day already in force is
// refused with an error in the log and the loader goes on with the old
// one; a map that gives the upper half of the gateways to a second shard
// from a later day sends that day's rows there, while the earlier day's
// stay on the first shard.
func TestShardMapReload(t *testing.T) {
	s := testdb.NewShards(t, 2, false)
	const gw = "90000000"
	now := time.Now()
	day := func(n int) time.Time {
		return time.Date(now.Year(), now.Month(), now.Day()+n, 10, 0, 0, 0, time.Local)
	}
	d1, d2 := day(1).Format(schema.DayLayout), day(2).Format(schema.DayLayout)
	mapOf := func(versions ...shard.Version) *shard.Map {
		return &shard.Map{Default: "s0", Shards: s.Map.Shards, Versions: versions}
	}
	allOnS0 := shard.Version{From: "20000101", Ranges: []shard.Range{{Shard: "s0"}}}
	split := func(from string) shard.Version {
		return shard.Version{From: from, Ranges: []shard.Range{{Shard: "s0", Below: "80000000"}, {Shard: "s1"}}}
	}
	path := filepath.Join(t.TempDir(), "shards.yaml")
	write := func(m *shard.Map) {
		t.Helper()
		b, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+".new", b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	write(mapOf(allOnS0))
	m, err := shard.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	set := shard.Open(m)
	t.Cleanup(func() { set.Close() })

	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	root := t.TempDir()
	l, err := loader.New(loader.Config{Root: root, Keep: true, KeepDays: 3650, Interval: 50 * time.Millisecond, Shards: set, Logger: log}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); shard.Watch(ctx, set, path, 20*time.Millisecond, log) }()
	go func() { defer wg.Done(); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 60 s; log:\n%s", what, logs.String())
			}
		}
	}
	rows := func(shardName, table string) int64 {
		return rowsByGateway(t, s.Map.Shards[shardName], table)[gw]
	}

	writeGateway(t, root, gw, "A", 100, day(1), 1)
	waitFor("tomorrow's rows on s0", func() bool { return rows("s0", "A"+d1) == 100 })

	// Refused: the split from today would look for today's rows on s1.
	write(mapOf(allOnS0, split(now.Format(schema.DayLayout))))
	waitFor("the refusal logged", func() bool { return strings.Contains(logs.String(), "shard map not reloaded") })
	if set.Map() != m {
		t.Fatal("a map rewriting today replaced the one in use")
	}
	if !strings.Contains(logs.String(), "versions in force on "+now.Format(schema.DayLayout)) {
		t.Errorf("the refusal does not say why:\n%s", logs.String())
	}

	// Taken: the split from the day after tomorrow.
	write(mapOf(allOnS0, split(d2)))
	waitFor("the new map in use", func() bool { return set.Map().For(gw, d2) == "s1" })
	writeGateway(t, root, gw, "A", 120, day(2), 2)
	waitFor("the day after tomorrow's rows on s1", func() bool { return rows("s1", "A"+d2) == 120 })
	if n := rows("s0", "A"+d2); n != 0 {
		t.Errorf("s0 holds %d rows of %s, which the new map gives to s1", n, d2)
	}
	if a, b := rows("s0", "A"+d1), rows("s1", "A"+d1); a != 100 || b != 0 {
		t.Errorf("tomorrow's rows: %d on s0, %d on s1; want all 100 still on s0", a, b)
	}
}
