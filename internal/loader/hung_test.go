package loader_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/syncbuf"
	"github.com/acstore/acstore/internal/testdb"
)

// TestHungShard: a shard that hangs in the middle of a LOAD DATA (its
// server frozen with SIGSTOP: connections open, nothing answers) holds up
// neither the other shard nor the loader's pace: while it hangs, the
// other shard loads file after file, pass after pass. When it wakes up
// its pass completes, and in the end every row is there exactly once.
func TestHungShard(t *testing.T) {
	s := testdb.NewShards(t, 2, false)
	const gwA, gwB = "10000000", "90000000" // s0, s1
	day := time.Date(2026, 11, 21, 10, 0, 0, 0, time.Local)
	table := "A" + day.Format(schema.DayLayout)
	if s.Map.For(gwA, "20261121") != "s0" || s.Map.For(gwB, "20261121") != "s1" {
		t.Fatal("fixture: gateways not on s0 and s1")
	}
	root := t.TempDir()
	set := shard.Open(s.Map)
	t.Cleanup(func() { set.Close() })
	var logs syncbuf.Buffer
	l, err := loader.New(loader.Config{Root: root, Keep: true, KeepDays: 3650, Interval: 50 * time.Millisecond,
		ShardPatience: 300 * time.Millisecond, Shards: set, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeGateway(t, root, gwA, "A", 100, day, 1)
	writeGateway(t, root, gwB, "A", 100, day, 2)
	if _, err := l.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	count := func(name string) map[string]int64 { return rowsByGateway(t, s.Map.Shards[name], table) }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 60 s; log:\n%s", what, logs.String())
			}
		}
	}

	s.Shards[1].Pause()
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			s.Shards[1].Resume()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); l.Close() })

	// s1 gets a file and hangs on it; s0 gets three, one after the other,
	// each written once the one before is loaded: three passes at least.
	writeGateway(t, root, gwB, "A", 100, day.Add(time.Hour), 3)
	for i := 1; i <= 3; i++ {
		writeGateway(t, root, gwA, "A", 100, day.Add(time.Duration(i)*time.Hour), uint64(10+i))
		want := int64(100 * (i + 1))
		waitFor("s0 loads while s1 hangs", func() bool { return count("s0")[gwA] == want })
	}
	if !strings.Contains(logs.String(), "shard still loading") || !strings.Contains(logs.String(), "shard=s1") {
		t.Errorf("the log does not say s1 is still loading:\n%s", logs.String())
	}

	s.Shards[1].Resume()
	resumed = true
	waitFor("s1's file once it is back", func() bool { return count("s1")[gwB] == 200 })
	cancel()
	wg.Wait()
	// Every row once, each on its gateway's shard only.
	for _, c := range []struct{ shard, gw string }{{"s0", gwA}, {"s1", gwB}} {
		if got := count(c.shard); len(got) != 1 || got[c.gw] != map[string]int64{gwA: 400, gwB: 200}[c.gw] {
			t.Errorf("%s holds %v, want only %s's rows", c.shard, got, c.gw)
		}
	}
}
