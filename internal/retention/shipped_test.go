package retention_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/retention"
)

// TestShippedOldDayReplayed: a day before push's recheck horizon counts as
// shipped only while it is unchanged since push's last pass. An old
// capture replayed into it (aclog -r of last week's file) makes it
// unshipped again, though every window in it is before the watermark.
func TestShippedOldDayReplayed(t *testing.T) {
	root := t.TempDir()
	old := time.Date(2026, 11, 1, 10, 0, 0, 0, time.Local)
	recent := time.Date(2026, 11, 20, 10, 0, 0, 0, time.Local)
	writeDay(t, root, old, 3, 0)
	writeDay(t, root, recent, 3, 0)
	oldDir := filepath.Join(root, "sync", gw, "20261101")
	recentDir := filepath.Join(root, "sync", gw, "20261120")

	sizes := map[string]int64{}
	entries, err := os.ReadDir(recentDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, _ := e.Info()
		sizes[e.Name()] = info.Size()
	}
	mtime := func(dir string) int64 {
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		return info.ModTime().UnixNano()
	}
	state := func(days map[string]int64) {
		t.Helper()
		b, err := json.Marshal(map[string]any{"gateway": gw, "watermark": "20261120_1205", "shipped": sizes, "days": days})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(retention.ClientStatePath(root)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(retention.ClientStatePath(root), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, want bool) {
		t.Helper()
		s, err := retention.ReadShipped(root)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Day(root, gw, "20261101")
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: old day shipped = %v, want %v", what, got, want)
		}
		if ok, err := s.Day(root, gw, "20261120"); err != nil || !ok {
			t.Errorf("%s: recent day shipped = %v, %v; want true", what, ok, err)
		}
	}

	state(nil)
	check("state without days (older push)", true)
	state(map[string]int64{"20261101": mtime(oldDir), "20261120": mtime(recentDir)})
	check("unchanged since push's pass", true)

	// A replayed capture adds a window to the old day.
	writeDay(t, root, old.Add(time.Hour), 3, 0)
	check("old capture replayed", false)
	state(map[string]int64{"20261120": mtime(recentDir)})
	check("day push never saw", false)
	state(map[string]int64{"20261101": mtime(oldDir), "20261120": mtime(recentDir)})
	check("shipped again by push", true)
}
