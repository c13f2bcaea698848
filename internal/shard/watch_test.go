package shard

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/syncbuf"
)

// twoShards is in force from 20261201: s1 takes the upper half.
const twoShards = `
default: s0
shards:
  s0: "a:b@tcp(127.0.0.1:1)/x"
  s1: "a:b@tcp(127.0.0.1:2)/x"
versions:
  - from: "20261201"
    ranges:
      - {shard: s0, below: "80000000"}
      - {shard: s1}
`

// withS2 adds s2 from a later day.
const withS2 = twoShards + `  - from: "20261215"
    ranges:
      - {shard: s0, below: "55555555"}
      - {shard: s1, below: "AAAAAAAA"}
      - {shard: s2}
`

// TestReplace: a running program takes a new map that adds shards or
// versions from after today, or moves a shard to another DSN; it refuses,
// with a clear error, one that does not load or validate or would assign
// a day up to today differently, and keeps the old one.
func TestReplace(t *testing.T) {
	const today = "20261210"
	for _, c := range []struct{ name, text, err string }{
		{"a shard and a version from after today", strings.Replace(withS2, "shards:\n", "shards:\n  s2: \"a:b@tcp(127.0.0.1:3)/x\"\n", 1), ""},
		{"a shard moved", strings.Replace(twoShards, "127.0.0.1:2", "10.0.0.2:3306", 1), ""},
		{"not YAML", "shards: [", "shard map"},
		{"unknown shard", withS2, "names unknown shard"},
		{"a version from today", strings.Replace(strings.Replace(withS2, "20261215", today, 1), "shards:\n", "shards:\n  s2: \"a:b@tcp(127.0.0.1:3)/x\"\n", 1), "versions in force on 20261210 or before differ"},
		{"a past bound moved", strings.Replace(twoShards, "80000000", "90000000", 1), "versions in force"},
		{"the past version gone", "default: s0\nshards: {s0: x, s1: y}\n", "versions in force"},
		{"another default", strings.Replace(twoShards, "default: s0", "default: s1", 1), "default shard s0 would become s1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			old, err := load(t, twoShards)
			if err != nil {
				t.Fatal(err)
			}
			set := Open(old)
			p := filepath.Join(t.TempDir(), "shards.yaml")
			if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			day, _ := time.ParseInLocation("20060102", today, time.Local)
			changed := Reload(set, p, day.Add(12*time.Hour), slog.New(slog.NewTextHandler(&logs, nil)))
			if c.err == "" {
				if !changed || set.Map() == old {
					t.Fatalf("not reloaded: %s", logs.String())
				}
				return
			}
			if changed || set.Map() != old {
				t.Fatal("a bad map replaced the one in use")
			}
			if !strings.Contains(logs.String(), c.err) || !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("log %q, want an error containing %q", logs.String(), c.err)
			}
		})
	}
}

// TestWatch: Watch takes a changed file without a signal, a bad one is
// logged and the old map stays, and SIGHUP reads the file again.
func TestWatch(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shards.yaml")
	write := func(text string) {
		t.Helper()
		// Through a rename, as an editor or config tool saves.
		if err := os.WriteFile(p+".new", []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p+".new", p); err != nil {
			t.Fatal(err)
		}
	}
	write(twoShards)
	m, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	set := Open(m)
	var logs syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(ctx, set, p, 20*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s; log:\n%s", what, logs.String())
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // Watch has taken the file's first stamp

	write("shards: [")
	waitFor("the bad map logged", func() bool { return strings.Contains(logs.String(), "not reloaded") })
	if set.Map() != m {
		t.Fatal("a map that does not parse replaced the one in use")
	}

	// A future version, which the next day's rows follow.
	next := strings.Replace(withS2, "shards:\n", "shards:\n  s2: \"a:b@tcp(127.0.0.1:3)/x\"\n", 1)
	next = strings.Replace(next, "20261215", time.Now().AddDate(0, 0, 1).Format("20060102"), 1)
	write(next)
	waitFor("the new map in use", func() bool { return set.Map().For("FFFFFFFF", time.Now().AddDate(0, 0, 1).Format("20060102")) == "s2" })

	// SIGHUP reads the file again, unchanged as it is.
	before := strings.Count(logs.String(), "shard map reloaded")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("SIGHUP reloads", func() bool { return strings.Count(logs.String(), "shard map reloaded") == before+1 })
}
