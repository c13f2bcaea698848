package retention_test

import (
	"context"
	"database/sql"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

// TestOfflineBranchLosesNothing: a branch whose head office is unreachable
// for longer than its retention keeps every day it has not shipped (files
// and tables); once the link is back, push ships them, head office holds
// exactly their rows, and only then does retention remove them.
func TestOfflineBranchLosesNothing(t *testing.T) {
	ctx := context.Background()
	branchDB, _ := testdb.New(t)
	hoDB, _ := testdb.New(t)
	root, hoRoot := t.TempDir(), t.TempDir()
	now := time.Now()
	noon := func(daysAgo int) time.Time {
		d := now.AddDate(0, 0, -daysAgo)
		return time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, time.Local)
	}
	old1, old2, recent := noon(10), noon(9), noon(1)
	for _, d := range []time.Time{old1, old2, recent} {
		writeDay(t, root, d, 30, 4096)
	}
	l, err := loader.New(loader.Config{Root: root, KeepDays: 3, Logger: testLogger(t)}, branchDB)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	// Offline: push cannot reach head office (nothing listens on port 1).
	if err := push(t, root, "http://127.0.0.1:1"); err == nil {
		t.Fatal("push to a closed port succeeded")
	}
	if !exists(retention.ClientStatePath(root)) {
		t.Fatal("push left no state file: retention cannot know push is configured")
	}
	if err := l.Retention(ctx, now); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Time{old1, old2, recent} {
		if !exists(dayDir(root, d)) {
			t.Errorf("%s: unshipped sync_files deleted while offline", d.Format(schema.DayLayout))
		}
		if n := testdb.Count(t, branchDB, "A"+d.Format(schema.DayLayout)); n != 60 {
			t.Errorf("%s: branch table has %d rows, want 60", d.Format(schema.DayLayout), n)
		}
	}
	if n := l.Pruner().Stats().Held.Load(); n != 2 {
		t.Errorf("held days = %d, want 2 (the two days past -keep-days 3)", n)
	}
	if n := l.Pruner().Stats().AgeDays.Load(); n != 0 {
		t.Errorf("%d days removed by age while offline", n)
	}

	// Back online: everything is shipped, with exact rows.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, hoRoot, hoDB, ln)
	if err := push(t, root, srv.URL); err != nil {
		t.Fatalf("push: %v", err)
	}
	if err := srv.LoadOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want := make(map[string]int)
	for _, d := range []time.Time{old1, old2, recent} {
		for table, n := range countRows(t, root, d) {
			want[table] = n
		}
	}
	if len(want) != 3*len(schema.LogTables()) {
		t.Fatalf("branch has rows in %d day tables, want %d", len(want), 3*len(schema.LogTables()))
	}
	for table, n := range want {
		if got := testdb.Count(t, hoDB, table); got != int64(n) {
			t.Errorf("head office %s: %d rows, branch sync_files %d", table, got, n)
		}
	}

	// Shipped: now retention removes the old days, and only them.
	if err := l.Retention(ctx, now); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Time{old1, old2} {
		if exists(dayDir(root, d)) {
			t.Errorf("%s: shipped day past retention still on disk", d.Format(schema.DayLayout))
		}
	}
	if !exists(dayDir(root, recent)) {
		t.Error("recent day removed")
	}
	tables, _ := mariadb.Tables(ctx, branchDB)
	for _, tb := range tables {
		if day, ok := tableDay(tb); ok && day != recent.Format(schema.DayLayout) {
			t.Errorf("table %s of an old day left", tb)
		}
	}
	if a, h := l.Pruner().Stats().AgeDays.Load(), l.Pruner().Stats().Held.Load(); a != 2 || h != 0 {
		t.Errorf("age days removed %d, held %d; want 2 and 0", a, h)
	}
}

// TestDiskWatermarks fills a real 16 MiB tmpfs with five days of a branch
// (three shipped, two not) and today, and brings it back under the
// watermarks, loader then midtable running their retention as their
// daemons do: at -disk-high the oldest shipped day goes first (loader: its
// day tables, sync_files, attachment bundle), then the other shipped ones;
// the unshipped days stay until -disk-critical, and go oldest first;
// today never goes. Loader leaves the rollups and midtable's record of
// them (.done) alone; midtable drops them, oldest first, while the disk is
// still above the watermark once loader is done, and keeps them when
// loader has freed enough.
func TestDiskWatermarks(t *testing.T) {
	ctx := context.Background()
	db, _ := testdb.New(t)
	root := tmpfs(t, 16<<20)
	now := time.Now()
	day := func(daysAgo int) time.Time {
		d := now.AddDate(0, 0, -daysAgo)
		return time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, time.Local)
	}
	d1, d2, d3, d4, d5 := day(6), day(5), day(4), day(3), day(2)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.Local)
	const xbytes = 1500 << 10
	for _, d := range []time.Time{d1, d2, d3} {
		writeDay(t, root, d, 20, xbytes)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, t.TempDir(), nil, ln)
	if err := push(t, root, srv.URL); err != nil {
		t.Fatalf("push: %v", err)
	}
	for _, d := range []time.Time{d4, d5, today} { // written after the push: not shipped
		writeDay(t, root, d, 20, xbytes)
	}
	l0, err := loader.New(loader.Config{Root: root, Logger: testLogger(t)}, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l0.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	l0.Close()
	r, err := rollup.New(rollup.Config{Root: root, Logger: testLogger(t)}, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	all := []time.Time{d1, d2, d3, d4, d5, today}
	for _, d := range all {
		if !hasRollup(t, db, d) {
			t.Fatalf("no rollup table of %s", d.Format(schema.DayLayout))
		}
	}

	// prune runs a loader's retention with these watermarks, then
	// midtable's, and returns their counters.
	prune := func(m retention.Watermarks) (lst, mst *retention.Stats) {
		t.Helper()
		l, err := loader.New(loader.Config{Root: root, Disk: m, Logger: testLogger(t)}, db)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if err := l.Retention(ctx, now); err != nil {
			t.Fatal(err)
		}
		r, err := rollup.New(rollup.Config{Root: root, Disk: m, DayTables: retention.DBStore{DB: db}, Logger: testLogger(t)}, db)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := r.Retention(ctx, now); err != nil {
			t.Fatal(err)
		}
		return l.Pruner().Stats(), r.Pruner().Stats()
	}
	in := func(d time.Time, set []time.Time) bool {
		for _, g := range set {
			if g.Equal(d) {
				return true
			}
		}
		return false
	}
	// check: the days gone (files and day tables), and those whose rollups
	// and record are gone.
	check := func(step string, gone, rollupsGone []time.Time) {
		t.Helper()
		for _, d := range all {
			name := d.Format(schema.DayLayout)
			wantGone, wantRollupsGone := in(d, gone), in(d, rollupsGone)
			if exists(dayDir(root, d)) == wantGone {
				t.Errorf("%s: sync_files of %s: gone=%v, want gone=%v", step, name, !wantGone, wantGone)
			}
			if hasTable(t, db, "A"+name) == wantGone {
				t.Errorf("%s: table A%s: gone=%v, want gone=%v", step, name, !wantGone, wantGone)
			}
			if hasRollup(t, db, d) == wantRollupsGone {
				t.Errorf("%s: rollups of %s: gone=%v, want gone=%v", step, name, !wantRollupsGone, wantRollupsGone)
			}
			if exists(filepath.Join(root, "state", "midtable", name+".done")) == wantRollupsGone {
				t.Errorf("%s: midtable's record of %s: gone=%v, want gone=%v", step, name, !wantRollupsGone, wantRollupsGone)
			}
		}
	}
	u0, err := retention.Used(root)
	if err != nil {
		t.Fatal(err)
	}
	dayPct := 100 * float64(dirSize(t, dayDir(root, d1))) / float64(16<<20)
	t.Logf("tmpfs 16 MiB: %.1f%% used by six days of %.1f%% each", u0, dayPct)

	// Above high by half a day: the oldest shipped day goes, only it;
	// loader freed enough, so midtable keeps its rollups.
	st, mt := prune(retention.Watermarks{High: u0 - dayPct/2})
	check("high, half a day", []time.Time{d1}, nil)
	if n, m := st.HighDays.Load(), mt.HighDays.Load(); n != 1 || m != 0 {
		t.Errorf("high: %d days removed by loader, %d by midtable; want 1 and 0", n, m)
	}
	// Far above high: every shipped day goes, the unshipped ones stay;
	// the disk is still above, so midtable drops the shipped days'
	// rollups too.
	st, mt = prune(retention.Watermarks{High: 1})
	check("high, far", []time.Time{d1, d2, d3}, []time.Time{d1, d2, d3})
	if n, m := st.HighDays.Load(), mt.HighDays.Load(); n != 2 || m != 3 {
		t.Errorf("high far: %d more days removed by loader, %d by midtable; want 2 and 3", n, m)
	}
	// Above critical by half a day: the oldest unshipped day goes; the
	// disk is still above high, so midtable drops its rollups, which
	// nothing holds back now that its files are gone.
	u1, _ := retention.Used(root)
	st, mt = prune(retention.Watermarks{High: 1, Critical: u1 - dayPct/2})
	check("critical, half a day", []time.Time{d1, d2, d3, d4}, []time.Time{d1, d2, d3, d4})
	if c, u, m := st.CriticalDays.Load(), st.UnshippedDays.Load(), mt.HighDays.Load(); c != 1 || u != 1 || m != 1 {
		t.Errorf("critical: %d days removed, %d unshipped, %d by midtable; want 1, 1 and 1", c, u, m)
	}
	// Far above critical: everything but today.
	st, _ = prune(retention.Watermarks{High: 1, Critical: 1})
	check("critical, far", []time.Time{d1, d2, d3, d4, d5}, []time.Time{d1, d2, d3, d4, d5})
	if u := st.UnshippedDays.Load(); u != 1 {
		t.Errorf("critical far: %d unshipped days removed, want 1", u)
	}
	u2, _ := retention.Used(root)
	t.Logf("after: %.1f%% used (today kept)", u2)
}

func hasTable(t testing.TB, db *sql.DB, name string) bool {
	t.Helper()
	tables, err := mariadb.Tables(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb == name {
			return true
		}
	}
	return false
}

// hasRollup reports whether a rollup table (Mid...) of day exists.
func hasRollup(t testing.TB, db *sql.DB, day time.Time) bool {
	t.Helper()
	tables, err := mariadb.Tables(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if strings.HasPrefix(tb, "Mid") && strings.HasSuffix(tb, day.Format(schema.DayLayout)) {
			return true
		}
	}
	return false
}

func dirSize(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOpenDayKept runs aclog's pruner (files only, no database) on a
// tmpfs far above -disk-critical while a writer holds a past day's
// sync_files open (aclog -r on last week's capture): that day and today
// stay, the closed past day goes, and the writer then closes its files
// into the directory that is still there.
func TestOpenDayKept(t *testing.T) {
	root := tmpfs(t, 8<<20)
	now := time.Now()
	past := func(daysAgo int) time.Time {
		d := now.AddDate(0, 0, -daysAgo)
		return time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, time.Local)
	}
	closed, open := past(5), past(4)
	writeDay(t, root, closed, 10, 1<<20)
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, HighPerformance: true})
	if err != nil {
		t.Fatal(err)
	}
	g := rowgen.New(1, false)
	for i := 0; i < 50; i++ {
		if err := g.Row(sp, schema.LogTables()[0], open.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.Flush(); err != nil {
		t.Fatal(err)
	}
	// Something that is no day keeps the disk above the watermark
	// whatever goes.
	if err := os.WriteFile(filepath.Join(root, "filler"), make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	p := retention.New(retention.Config{Root: root, Marks: retention.Watermarks{Critical: 1}, Logger: testLogger(t)})
	if err := p.Disk(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	if exists(dayDir(root, closed)) {
		t.Error("the closed past day was kept above -disk-critical")
	}
	if !exists(dayDir(root, open)) {
		t.Fatal("the day a writer has open was removed")
	}
	if n := p.Stats().CriticalDays.Load(); n != 1 {
		t.Errorf("%d days removed, want 1", n)
	}
	if err := sp.Close(); err != nil {
		t.Fatalf("the writer could not publish its files: %v", err)
	}
	if got := countRows(t, root, open); got[string(schema.LogTables()[0].Letter)+open.Format(schema.DayLayout)] != 50 {
		t.Errorf("rows of the open day after publishing: %v, want 50", got)
	}
}
