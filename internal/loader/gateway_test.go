package loader_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

// TestRunGatewayConcurrent runs RunGateway for several gateways at once,
// twice each at the same time (run with -race): every file is loaded by
// exactly one of the calls, and the tables hold each gateway's rows once.
func TestRunGatewayConcurrent(t *testing.T) {
	db, dsn := testdb.New(t)
	root := t.TempDir()
	gws := []string{"0000000A", "5F86F7A5", "AAAAAAAA", "FFFFFFF0"}
	for i, g := range gws {
		writeGateway(t, root, g, "AUQ", 300+100*i, t0, uint64(i))
		writeGateway(t, root, g, "AUQ", 200, t0.Add(5*time.Minute), uint64(10+i))
	}
	l := newLoader(t, db, loader.Config{Root: root, Keep: true, MaxStatementBytes: 16 << 10})
	var files atomic.Int64
	var wg sync.WaitGroup
	for _, g := range gws {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := l.RunGateway(context.Background(), g)
				if err != nil {
					t.Errorf("%s: %v", g, err)
				}
				files.Add(int64(res.Files))
			}()
		}
	}
	wg.Wait()
	if n := files.Load(); n != int64(len(gws)*2*3) {
		t.Errorf("%d files loaded in all, want %d: each once", n, len(gws)*2*3)
	}
	for _, letter := range "AUQ" {
		got := rowsByGateway(t, dsn, string(letter)+t0.Format(schema.DayLayout))
		for i, g := range gws {
			if want := int64(300 + 100*i + 200); got[g] != want {
				t.Errorf("%c: gateway %s has %d rows, want %d", letter, g, got[g], want)
			}
		}
	}
}

// TestScanSameDirTime: a file published into a day directory within the
// file system's timestamp granularity of the previous scan (the directory's
// time unchanged) is still found.
func TestScanSameDirTime(t *testing.T) {
	db, _ := testdb.New(t)
	root := t.TempDir()
	writeGateway(t, root, gw, "Q", 100, t0, 1)
	dir := filepath.Join(root, "sync", gw, t0.Format(schema.DayLayout))
	before, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, db, loader.Config{Root: root, Keep: true})
	if res, err := l.RunGateway(context.Background(), gw); err != nil || res.Files != 1 {
		t.Fatalf("first pass: %d files, %v; want 1", res.Files, err)
	}
	if res, err := l.RunGateway(context.Background(), gw); err != nil || res.Files != 0 {
		t.Fatalf("second pass: %d files, %v; want none", res.Files, err)
	}
	writeGateway(t, root, gw, "A", 100, t0, 2)
	if err := os.Chtimes(dir, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	if res, err := l.RunGateway(context.Background(), gw); err != nil || res.Files != 1 || res.Rows != 100 {
		t.Errorf("a file published in the same tick: %d files, %d rows, %v; want 1 and 100", res.Files, res.Rows, err)
	}
}
