package fileutil_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acstore/acstore/internal/fileutil"
)

// TestCutFS: a cut keeps fsynced data under fsynced entries and drops the
// rest, as POSIX allows; operations after the cut point fail and do nothing.
func TestCutFS(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "old"), []byte("old"), 0o644)
	c, err := fileutil.NewCutFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, data string, sync bool) {
		f, err := c.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(data))
		if sync {
			f.Sync()
		}
		f.Close()
	}
	write("synced", "kept", true)
	write("unsynced-data", "lost", false)
	c.SyncDir(dir)
	write("synced", " and lost", false)
	write("unsynced-entry", "lost", true)
	c.Rename(filepath.Join(dir, "old"), filepath.Join(dir, "renamed"))
	c.CutAfter(2)
	if err := c.Remove(filepath.Join(dir, "synced")); err != nil {
		t.Fatal(err)
	}
	if err := c.SyncDir(dir); !errors.Is(err, fileutil.ErrCut) {
		t.Fatalf("after the cut point: %v, want ErrCut", err)
	}
	rep, err := c.Cut(rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	// Unsynced appends may survive in part (a torn write): a prefix.
	want := map[string][2]string{"old": {"old", "old"}, "synced": {"kept", "kept and lost"}, "unsynced-data": {"", "lost"}}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(want) {
		t.Errorf("%d files after the cut, want %d: %v", len(ents), len(want), ents)
	}
	for name, w := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !strings.HasPrefix(string(b), w[0]) || !strings.HasPrefix(w[1], string(b)) {
			t.Errorf("%s = %q, %v; want %q and then a prefix of the rest of %q", name, b, err, w[0], w[1])
		}
	}
	if !rep.InProgress() || rep.LostEntries != 4 {
		t.Errorf("report %+v: want 4 lost entries (unsynced-entry, renamed, old, synced)", rep)
	}
}

// TestCutFSDirectories: a directory made since its parent's last fsync is
// lost at a cut with what is in it, even fsynced; MkdirAllFS makes one
// that survives.
func TestCutFSDirectories(t *testing.T) {
	dir := t.TempDir()
	c, err := fileutil.NewCutFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(sub string) {
		if err := fileutil.WriteFileFS(c, filepath.Join(dir, sub, "f"), filepath.Join(dir, sub), []byte("data")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.MkdirAll(filepath.Join(dir, "plain", "deep")); err != nil {
		t.Fatal(err)
	}
	publish("plain/deep")
	if err := fileutil.MkdirAllFS(c, filepath.Join(dir, "durable", "deep")); err != nil {
		t.Fatal(err)
	}
	publish("durable/deep")
	rep, err := c.Cut(rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	// MkdirAllFS's fsync of dir made "plain" durable too, not plain/deep.
	if _, err := os.Stat(filepath.Join(dir, "plain", "deep")); err == nil {
		t.Error("a directory whose parent was not fsynced survived the cut")
	}
	if _, err := os.Stat(filepath.Join(dir, "plain")); err != nil {
		t.Errorf("a directory whose parent was fsynced is gone: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "durable", "deep", "f")); string(b) != "data" {
		t.Errorf("the file in the durable directory: %q, %v", b, err)
	}
	if rep.LostDirs != 1 || rep.LostEntries != 1 || !rep.InProgress() {
		t.Errorf("report %+v: want 1 lost directory and 1 lost entry", rep)
	}
}
