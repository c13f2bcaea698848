package rollup_test

import (
	"context"
	"database/sql"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/testdb"
)

const (
	gw1 = "5F86F7A5"
	gw2 = "0000BEEF"
)

var day0 = time.Date(2026, 11, 21, 0, 0, 0, 0, time.Local)

const day0s = "20261121"

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// writeDay writes a whole day of A, F, T and U rows for two gateways (head
// office holds many), with nasty names, NULLs and too-long values.
func writeDay(t testing.TB, root string, rowsPerWindow int) map[byte]int {
	t.Helper()
	total := make(map[byte]int)
	for i, gw := range []string{gw1, gw2} {
		n, err := rowgen.Grouped(rowgen.GroupedConfig{Root: root, Gateway: gw, Seed: uint64(i + 1), Start: day0,
			Windows: 288, RowsPerWindow: rowsPerWindow, Nasty: true, Codec: []logfile.Codec{logfile.LZ4, logfile.XZ}[i]})
		if err != nil {
			t.Fatal(err)
		}
		for l, c := range n {
			total[l] += c
		}
	}
	return total
}

// loadRaw loads the sync_files into the raw day tables, as loader does at
// head office.
func loadRaw(t testing.TB, db *sql.DB, root string) {
	t.Helper()
	l, err := loader.New(loader.Config{Root: root, Keep: true}, db)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func newRoller(t testing.TB, db *sql.DB, cfg rollup.Config) *rollup.Roller {
	t.Helper()
	cfg.Logger = testLogger(t)
	r, err := rollup.New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func runOnce(t testing.TB, r *rollup.Roller) rollup.Result {
	t.Helper()
	res, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func verify(t testing.TB, db *sql.DB) {
	t.Helper()
	ms, err := rollup.Check(context.Background(), db, day0s)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		t.Errorf("rollup differs from GROUP BY over the raw table: %s", m)
	}
}

func queryInt(t testing.TB, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n.Int64
}

// TestRollupsEqualGroupBy builds every rollup of a day from the sync_files
// and checks each table, row by row, against the same GROUP BY over the
// raw day tables loaded from the same files.
func TestRollupsEqualGroupBy(t *testing.T) {
	db, _ := testdb.New(t)
	root := t.TempDir()
	rows := writeDay(t, root, 6)
	loadRaw(t, db, root)
	r := newRoller(t, db, rollup.Config{Root: root})
	res := runOnce(t, r)

	var want int64
	for _, n := range rows {
		want += int64(n)
	}
	if res.Rows != want {
		t.Errorf("aggregated %d rows, wrote %d", res.Rows, want)
	}
	// 2 gateways x 4 tables x 6 blocks.
	if res.Blocks != 48 {
		t.Errorf("%d blocks replaced, want 48", res.Blocks)
	}
	verify(t, db)
	t.Run("queries", func(t *testing.T) { checkQueries(t, db) })

	tables, err := mariadb.Tables(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	var mids int
	for _, name := range tables {
		if strings.HasPrefix(name, "Mid") {
			mids++
			if n := testdb.Count(t, db, name); n == 0 {
				t.Errorf("%s is empty", name)
			}
		}
	}
	if want := len(rollup.Catalogue()) * len(rollup.Periods()); mids != want {
		t.Errorf("%d rollup tables, want %d (catalogue x periods)", mids, want)
	}

	// Real values, independent of Check's SQL.
	cases := []struct {
		name      string
		rollupSQL string
		rawSQL    string
	}{
		{"F bytes_down, 4H by user", "SELECT SUM(bytes_down) FROM MidFU4H20261121", "SELECT SUM(bytes_down) FROM F20261121"},
		{"A sessions, 30M by group and app", "SELECT SUM(sessions) FROM MidAGA30M20261121", "SELECT COUNT(*) FROM A20261121"},
		{"T online 13:00-17:00 one gateway", "SELECT SUM(online_seconds) FROM MidTU1H20261121 WHERE gw='" + gw1 + "' AND bucket >= '2026-11-21 13:00' AND bucket < '2026-11-21 17:00'",
			"SELECT SUM(online_seconds) FROM T20261121 WHERE gw='" + gw1 + "' AND ts >= '2026-11-21 13:00' AND ts < '2026-11-21 17:00'"},
		{"U requests of NULL users", "SELECT SUM(requests) FROM MidUUA4H20261121 WHERE user IS NULL", "SELECT SUM(repeat_count) FROM U20261121 WHERE user IS NULL"},
		{"U requests of the user named \\N", "SELECT SUM(requests) FROM MidUU1H20261121 WHERE user = '\\\\N'", "SELECT SUM(repeat_count) FROM U20261121 WHERE user = '\\\\N'"},
		{"U requests by app type (seed 001)", "SELECT SUM(requests) FROM MidUT30M20261121 WHERE app_type IS NOT NULL", "SELECT SUM(repeat_count) FROM U20261121 WHERE app_type IS NOT NULL"},
		{"F bytes of the 64-byte cut user", "SELECT SUM(bytes_up) FROM MidFUA30M20261121 WHERE LENGTH(user) = 64", "SELECT SUM(bytes_up) FROM F20261121 WHERE LENGTH(user) = 64"},
	}
	// Requests are counted by repeat_count, which the generated rows vary:
	// counting rows would give less.
	if reqs, rows := queryInt(t, db, "SELECT SUM(requests) FROM MidUG4H20261121"), queryInt(t, db, "SELECT COUNT(*) FROM U20261121"); reqs <= rows {
		t.Errorf("U requests %d, U rows %d: requests must count the repeats folded into rows", reqs, rows)
	}
	for _, c := range cases {
		got, want := queryInt(t, db, c.rollupSQL), queryInt(t, db, c.rawSQL)
		if got != want || want == 0 {
			t.Errorf("%s: rollup %d, raw %d (want equal and non-zero)", c.name, got, want)
		}
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM MidFGA4H20261121"); n > 2*6*8*12 {
		t.Errorf("MidFGA4H has %d rows: more than gateways x blocks x groups x apps", n)
	}

	// A second pass finds nothing to do; a rebuild of the day gives the
	// same rows.
	if res := runOnce(t, r); res.Blocks != 0 {
		t.Errorf("second pass replaced %d blocks, want 0", res.Blocks)
	}
	if _, err := r.Rebuild(context.Background(), day0s); err != nil {
		t.Fatal(err)
	}
	verify(t, db)
}

// TestIncremental publishes windows one by one, as aclog does, rolling up
// after each, and checks the rollups match the raw tables every time.
func TestIncremental(t *testing.T) {
	db, _ := testdb.New(t)
	root := t.TempDir()
	r := newRoller(t, db, rollup.Config{Root: root})
	start := day0.Add(15*time.Hour + 30*time.Minute) // 15:30, across the 16:00 block edge
	for i := range 12 {
		_, err := rowgen.Grouped(rowgen.GroupedConfig{Root: root, Gateway: gw1, Seed: uint64(100 + i),
			Start: start.Add(time.Duration(i) * logfile.WindowLength), Windows: 1, RowsPerWindow: 20, Letters: "FU"})
		if err != nil {
			t.Fatal(err)
		}
		res := runOnce(t, r)
		// The new window's block only: one per table.
		if res.Blocks != 2 {
			t.Errorf("window %d: %d blocks replaced, want 2", i, res.Blocks)
		}
		// Only the new files are read: the others' aggregates are cached.
		if res.Files < 2 {
			t.Errorf("window %d: block computed from %d files", i, res.Files)
		}
		if i%4 == 3 {
			loadRaw(t, db, root)
			verify(t, db)
		}
	}
	if got := r.Stats().Files.Load(); got != 24 {
		t.Errorf("read %d sync_files for 24 published, want each read once", got)
	}
}

// TestLateRows reopens a published window for late rows (the spool renames
// it back to .part, then publishes it bigger): the state sees the new size
// and the block is recomputed.
func TestLateRows(t *testing.T) {
	db, _ := testdb.New(t)
	root := t.TempDir()
	r := newRoller(t, db, rollup.Config{Root: root})
	gen := func(seed uint64) {
		if _, err := rowgen.Grouped(rowgen.GroupedConfig{Root: root, Gateway: gw1, Seed: seed, Start: day0.Add(9 * time.Hour),
			Windows: 2, RowsPerWindow: 30, Letters: "F"}); err != nil {
			t.Fatal(err)
		}
	}
	gen(1)
	runOnce(t, r)
	gen(2) // the same windows again: appended to the published files
	if res := runOnce(t, r); res.Blocks != 1 || res.Rows != 120 {
		t.Errorf("after late rows: %d blocks from %d rows, want 1 block from 120 rows", res.Blocks, res.Rows)
	}
	loadRaw(t, db, root)
	verify(t, db)
}

// dumpMids returns the rows of every rollup table of the day.
func dumpMids(t testing.TB, db *sql.DB) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	for _, r := range rollup.Catalogue() {
		for _, p := range rollup.Periods() {
			name := r.Table(p, day0s)
			rows, err := rollup.Dump(context.Background(), db, "SELECT * FROM "+mariadb.Quote(name))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = rows
		}
	}
	return out
}

// TestKillMidtable kills midtable with SIGKILL at random moments while it
// rolls up a day, restarts it each time, then runs it once more (-once):
// every rollup table must hold the same rows as after an undisturbed run.
func TestKillMidtable(t *testing.T) {
	if root := os.Getenv("ACSTORE_MIDTABLE_CHILD"); root != "" {
		midtableChild(root)
		return
	}
	killed, dsn := testdb.New(t)
	calm, _ := testdb.New(t)
	root := t.TempDir()
	writeDay(t, root, 4)
	rng := rand.New(rand.NewPCG(3, 4))
	kills := 0
	for range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillMidtable$")
		cmd.Env = append(os.Environ(), "ACSTORE_MIDTABLE_CHILD="+root, "ACSTORE_MIDTABLE_DSN="+dsn)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(450)) * time.Millisecond)
		if cmd.Process.Kill() == nil {
			kills++
		}
		cmd.Wait()
	}
	r := newRoller(t, killed, rollup.Config{Root: root})
	res := runOnce(t, r)
	t.Logf("%d kills; the last pass redid %d blocks", kills, res.Blocks)
	if res.Blocks == 0 {
		t.Error("the children finished before being killed: the test proves nothing")
	}

	// The undisturbed run: its own database and state.
	runOnce(t, newRoller(t, calm, rollup.Config{Root: root, StateDir: t.TempDir()}))
	got, want := dumpMids(t, killed), dumpMids(t, calm)
	for name, w := range want {
		if g := got[name]; strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: %d rows after kills, %d undisturbed", name, len(g), len(w))
		}
	}
	loadRaw(t, calm, root)
	verify(t, calm)
}

func midtableChild(root string) {
	ctx := context.Background()
	db, err := mariadb.Open(ctx, os.Getenv("ACSTORE_MIDTABLE_DSN"))
	if err != nil {
		panic(err)
	}
	// One worker: slower, more moments to be killed at.
	r, err := rollup.New(rollup.Config{Root: root, Workers: 1}, db)
	if err != nil {
		panic(err)
	}
	r.RunOnce(ctx)
	os.Exit(0)
}
