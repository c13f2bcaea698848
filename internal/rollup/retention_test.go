package rollup_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

// midRows returns the rollup tables of day and the rows they hold in all.
func midRows(t testing.TB, db *sql.DB, day string) (tables int, rows int64) {
	t.Helper()
	all, err := mariadb.Tables(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range all {
		if _, _, d, ok := rollup.ParseTable(tb); ok && d == day {
			tables++
			rows += queryInt(t, db, "SELECT COUNT(*) FROM "+mariadb.Quote(tb))
		}
	}
	return tables, rows
}

// TestAgeRetention: midtable's -keep-days drops the rollup tables of the
// old days and their record (.done), whether loader's retention already
// removed the day's sync_files or not, keeps the recent days' whole, and
// does not roll the old day up again from the sync_files loader still
// keeps; the sync_files themselves are left to loader.
func TestAgeRetention(t *testing.T) {
	ctx := context.Background()
	db, _ := testdb.New(t)
	root := t.TempDir()
	now := time.Now()
	day := func(daysAgo int) time.Time {
		d := now.AddDate(0, 0, -daysAgo)
		return time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, time.Local)
	}
	oldKept, oldGone, recent := day(12), day(11), day(2) // sync_files of oldGone removed by loader
	for i, d := range []time.Time{oldKept, oldGone, recent} {
		if _, err := rowgen.Grouped(rowgen.GroupedConfig{Root: root, Gateway: gw1, Seed: uint64(i + 1),
			Start: d, Windows: 2, RowsPerWindow: 30, Letters: "FU"}); err != nil {
			t.Fatal(err)
		}
	}
	// Rolled up while the old days were recent (no -keep-days).
	runOnce(t, newRoller(t, db, rollup.Config{Root: root}))
	name := func(d time.Time) string { return d.Format(schema.DayLayout) }
	done := func(d time.Time) string { return filepath.Join(dataroot.Root(root).State("midtable"), name(d)+".done") }
	before := map[string]int64{}
	for _, d := range []time.Time{oldKept, oldGone, recent} {
		n, rows := midRows(t, db, name(d))
		if n == 0 || rows == 0 {
			t.Fatalf("%s: %d rollup tables, %d rows after the pass", name(d), n, rows)
		}
		if _, err := os.Stat(done(d)); err != nil {
			t.Fatalf("%s: no record after the pass: %v", name(d), err)
		}
		before[name(d)] = rows
	}
	if err := os.RemoveAll(dataroot.Root(root).SyncDay(gw1, name(oldGone))); err != nil {
		t.Fatal(err)
	}

	r := newRoller(t, db, rollup.Config{Root: root, KeepDays: 10})
	if err := r.Age(ctx, now); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Time{oldKept, oldGone} {
		if n, _ := midRows(t, db, name(d)); n != 0 {
			t.Errorf("%s, past -keep-days: %d rollup tables left", name(d), n)
		}
		if _, err := os.Stat(done(d)); !os.IsNotExist(err) {
			t.Errorf("%s, past -keep-days: its record is still there (%v)", name(d), err)
		}
	}
	if _, rows := midRows(t, db, name(recent)); rows != before[name(recent)] {
		t.Errorf("%s, recent: %d rollup rows, want %d", name(recent), rows, before[name(recent)])
	}
	if _, err := os.Stat(done(recent)); err != nil {
		t.Errorf("%s, recent: its record is gone: %v", name(recent), err)
	}
	files, _ := filepath.Glob(filepath.Join(dataroot.Root(root).SyncDay(gw1, name(oldKept)), "*"))
	if len(files) == 0 {
		t.Errorf("%s: midtable removed loader's sync_files", name(oldKept))
	}
	if n := r.Pruner().Stats().AgeDays.Load(); n != 2 {
		t.Errorf("%d days removed by age, want 2", n)
	}
	// The old day's sync_files, still there for loader, are not rolled up
	// again, and a second pass drops nothing more.
	if res := runOnce(t, r); res.Blocks != 0 {
		t.Errorf("the next pass replaced %d blocks, want none (old day past -keep-days)", res.Blocks)
	}
	if n, _ := midRows(t, db, name(oldKept)); n != 0 {
		t.Errorf("%s: rolled up again after retention: %d tables", name(oldKept), n)
	}
	if err := r.Age(ctx, now); err != nil {
		t.Fatal(err)
	}
	if n := r.Pruner().Stats().AgeDays.Load(); n != 2 {
		t.Errorf("after a second pass %d days removed by age, want 2", n)
	}
	var names []string
	all, _ := mariadb.Tables(ctx, db)
	for _, tb := range all {
		if strings.HasPrefix(tb, "Mid") {
			names = append(names, tb)
		}
	}
	t.Logf("rollup tables left: %d (%s)", len(names), name(recent))
}

// TestRunRetention: the daemon's loop (Run) drops the rollups past
// -keep-days and their record between its passes, and keeps the recent
// day's.
func TestRunRetention(t *testing.T) {
	db, _ := testdb.New(t)
	root := t.TempDir()
	var days []string
	for i, ago := range []int{30, 1} {
		d := time.Now().AddDate(0, 0, -ago)
		d = time.Date(d.Year(), d.Month(), d.Day(), 8, 0, 0, 0, time.Local)
		if _, err := rowgen.Grouped(rowgen.GroupedConfig{Root: root, Gateway: gw2, Seed: uint64(i + 7),
			Start: d, Windows: 1, RowsPerWindow: 20, Letters: "F"}); err != nil {
			t.Fatal(err)
		}
		days = append(days, d.Format(schema.DayLayout))
	}
	runOnce(t, newRoller(t, db, rollup.Config{Root: root}))
	old, recent := days[0], days[1]
	if n, _ := midRows(t, db, old); n == 0 {
		t.Fatalf("no rollup table of %s after the pass", old)
	}
	r := newRoller(t, db, rollup.Config{Root: root, KeepDays: 7, Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- r.Run(ctx) }()
	waitFor(t, time.Minute, "the old day's rollups to go", func() bool {
		all, err := mariadb.Tables(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range all {
			if _, _, d, ok := rollup.ParseTable(tb); ok && d == old {
				return false
			}
		}
		return true
	})
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dataroot.Root(root).State("midtable"), old+".done")); !os.IsNotExist(err) {
		t.Errorf("%s: its record is still there (%v)", old, err)
	}
	if n, rows := midRows(t, db, recent); n == 0 || rows == 0 {
		t.Errorf("%s, recent: %d rollup tables, %d rows left", recent, n, rows)
	}
}
