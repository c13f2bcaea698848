package loader_test

import (
	"context"
	"database/sql"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

const gw = "5F86F7A5"

var t0 = time.Date(2026, 11, 21, 13, 0, 0, 0, time.Local)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// writeRows writes n rows per table (or only the given letters) through a
// Spool, flushing every flushEvery rows, starting at ts.
func writeRows(t testing.TB, root string, letters string, n, flushEvery int, ts time.Time, seed uint64, nasty bool) {
	t.Helper()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, MaxLoadBacklog: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	g := rowgen.New(seed, nasty)
	for i := 0; i < n; i++ {
		for _, l := range []byte(letters) {
			tb, _ := schema.ByLetter(l)
			if err := g.Row(sp, tb, ts.Add(time.Duration(i)*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		if (i+1)%flushEvery == 0 {
			if err := sp.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
}

func newLoader(t testing.TB, db *sql.DB, cfg loader.Config) *loader.Loader {
	t.Helper()
	cfg.Logger = testLogger(t)
	l, err := loader.New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func runOnce(t testing.TB, l *loader.Loader) loader.Result {
	t.Helper()
	res, err := l.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// syncRows returns every row of the table's sync_files, keyed by id.
func syncRows(t testing.TB, root string, letter byte, day string) map[string][]logfile.Field {
	t.Helper()
	days, err := rebuild.Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]logfile.Field)
	d := days[string(letter)+day]
	if d == nil {
		return out
	}
	for _, paths := range d.Files {
		for _, p := range paths {
			s, err := logfile.OpenRows(p, logfile.LZ4)
			if err != nil {
				t.Fatal(err)
			}
			rows := logfile.NewRows(s)
			for rows.Next() {
				f, err := logfile.SplitRow(rows.Row())
				if err != nil {
					t.Fatal(err)
				}
				out[string(f[0].Value)] = f
			}
			s.Close()
		}
	}
	return out
}

// tableRows reads a day table back in the file's column order, every value
// as the bytes MariaDB holds.
func tableRows(t testing.TB, db *sql.DB, tb *schema.Table, name string) map[string][]logfile.Field {
	t.Helper()
	cols := tb.FileColumns()
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "CAST(`" + c + "` AS BINARY)"
	}
	rows, err := db.Query("SELECT " + strings.Join(sel, ", ") + " FROM " + mariadb.Quote(name))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := make(map[string][]logfile.Field)
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		f := make([]logfile.Field, len(cols))
		for i, v := range vals {
			f[i] = logfile.Field{Value: append([]byte{}, v...), Null: v == nil}
		}
		out[string(f[0].Value)] = f
	}
	return out
}

func sameRows(t *testing.T, table string, want, got map[string][]logfile.Field) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d rows in the table, %d in the sync_files", table, len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("%s: row %s missing from the table", table, id)
		}
		for i := range w {
			if w[i].Null != g[i].Null || string(w[i].Value) != string(g[i].Value) {
				t.Fatalf("%s row %s field %d: table %q, file %q", table, id, i, g[i], w[i])
			}
		}
	}
}

// TestRoundTrip: rows written through the writer, loaded by loader, equal
// the rows read back from the day table, for every table letter, including
// NULLs, tabs, newlines, backslashes and non-UTF-8 bytes.
func TestRoundTrip(t *testing.T) {
	db, _ := testdb.New(t)
	root := t.TempDir()
	writeRows(t, root, schema.ShipOrder, 300, 50, t0, 1, true)
	l := newLoader(t, db, loader.Config{Root: root})
	res := runOnce(t, l)
	if want := int64(300 * len(schema.ShipOrder)); res.Rows != want {
		t.Errorf("loaded %d rows, want %d", res.Rows, want)
	}
	// 6 load_files per table, merged into one statement each.
	if res.Files != 6*len(schema.ShipOrder) || res.Batches != len(schema.ShipOrder) {
		t.Errorf("%d files in %d statements, want %d in %d", res.Files, res.Batches, 6*len(schema.ShipOrder), len(schema.ShipOrder))
	}
	for _, tb := range schema.LogTables() {
		name := schema.DayTable(tb.Letter, t0)
		sameRows(t, name, syncRows(t, root, tb.Letter, t0.Format("20060102")), tableRows(t, db, tb, name))
		var engine string
		db.QueryRow("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", name).Scan(&engine)
		if engine != "MyISAM" {
			t.Errorf("%s engine %q", name, engine)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(logfile.LoadDir(root), "[0-9]*")); len(left) != 0 {
		t.Errorf("load_files left after loading: %v", left)
	}
	// Loading the same rows again (a crash before the delete) adds nothing.
	again := t.TempDir()
	writeRows(t, again, schema.ShipOrder, 300, 50, t0, 1, true)
	l2 := newLoader(t, db, loader.Config{Root: again})
	if res := runOnce(t, l2); res.Rows != 0 || res.Files == 0 {
		t.Errorf("reloading the same rows inserted %d rows from %d files; want 0 rows", res.Rows, res.Files)
	}
}

// TestKeepMode loads sync_files at head office, never deletes them, and
// does not load them twice.
func TestKeepMode(t *testing.T) {
	db, _ := testdb.New(t)
	root := t.TempDir()
	writeRows(t, root, "AQ", 1000, 200, t0, 2, false)
	writeRows(t, root, "AQ", 500, 200, t0.Add(10*time.Minute), 3, false)
	l := newLoader(t, db, loader.Config{Root: root, Keep: true})
	if res := runOnce(t, l); res.Rows != 3000 || res.Files != 4 {
		t.Fatalf("first pass: %d rows from %d files, want 3000 from 4", res.Rows, res.Files)
	}
	if res := runOnce(t, l); res.Files != 0 {
		t.Errorf("second pass loaded %d files again", res.Files)
	}
	// A file arriving later in a day directory already scanned is found.
	writeRows(t, root, "Q", 100, 100, t0.Add(30*time.Minute), 4, false)
	if res := runOnce(t, l); res.Files != 1 || res.Rows != 100 {
		t.Errorf("late file: %d files, %d rows loaded; want 1 and 100", res.Files, res.Rows)
	}
	// A restarted loader reads its ledger.
	l2 := newLoader(t, db, loader.Config{Root: root, Keep: true})
	if res := runOnce(t, l2); res.Files != 0 {
		t.Errorf("after restart %d files loaded again", res.Files)
	}
	if n := testdb.Count(t, db, "A"+t0.Format("20060102")); n != 1500 {
		t.Errorf("A table has %d rows, want 1500", n)
	}
	files := 0
	logfile.WalkSync(root, func(string, logfile.Name) error { files++; return nil })
	if files != 5 {
		t.Errorf("%d sync_files left, want all 5 kept", files)
	}
}

// TestBackfill: when loader falls behind, aclog stops writing load_files
// and loader loads whole sync_files instead; nothing is lost.
func TestBackfill(t *testing.T) {
	db, _ := testdb.New(t)
	root := t.TempDir()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, MaxLoadBacklog: 3})
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := schema.ByLetter('U')
	g := rowgen.New(4, true)
	for i := 0; i < 100; i++ {
		g.Row(sp, tb, t0)
		if i%10 == 9 {
			sp.Flush()
		}
	}
	if st := sp.Stats(); !st.LoadPaused || st.LoadFiles != 3 {
		t.Fatalf("load_files not paused at the backlog limit: %+v", st)
	}
	sp.Close()
	l := newLoader(t, db, loader.Config{Root: root})
	runOnce(t, l)
	if n := testdb.Count(t, db, "U"+t0.Format("20060102")); n != 100 {
		t.Errorf("%d rows loaded, want 100", n)
	}
	if left, _ := filepath.Glob(filepath.Join(logfile.LoadDir(root), "[0-9]*")); len(left) != 0 {
		t.Errorf("left in load dir: %v", left)
	}
}

// TestKillLoader kills loader with SIGKILL during a large backlog, each
// time once it has loaded files and while a LOAD DATA of it is running,
// restarts it each time, and checks each row is in the table once.
func TestKillLoader(t *testing.T) {
	if root := os.Getenv("ACSTORE_LOADER_CHILD"); root != "" {
		loaderChild(root)
		return
	}
	db, dsn := testdb.New(t)
	root := t.TempDir()
	const rows = 60000
	writeRows(t, root, "AU", rows, 500, t0, 5, true)
	rng := rand.New(rand.NewPCG(1, 2))
	var kills []killRecord
	for i := 0; i < 12; i++ {
		start := pendingLoads(t, root)
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillLoader$")
		cmd.Env = append(os.Environ(), "ACSTORE_LOADER_CHILD="+root, "ACSTORE_LOADER_DSN="+dsn)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Once this loader has loaded a file, at a random moment of a
		// statement of its.
		waitFor(t, time.Minute, "the child loader to load a file", func() bool { return pendingLoads(t, root) < start })
		time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
		var k killRecord
		for deadline := time.Now().Add(2 * time.Second); k.inFlight == 0 && time.Now().Before(deadline); {
			k.inFlight = loadsRunning(db)
		}
		cmd.Process.Kill()
		cmd.Wait()
		k.pending = pendingLoads(t, root)
		k.loaded = uint64(start - k.pending)
		kills = append(kills, k)
		if k.pending == 0 {
			break
		}
	}
	hits := 0
	for i, k := range kills {
		t.Logf("kill %2d: %3d files loaded by that loader, %3d pending, %d LOAD DATA running", i+1, k.loaded, k.pending, k.inFlight)
		if k.hit() {
			hits++
		}
	}
	if len(kills) < 10 || hits*3 < len(kills)*2 {
		t.Errorf("%d kills, %d of them mid-work: want at least 10, two thirds mid-work", len(kills), hits)
	}
	l := newLoader(t, db, loader.Config{Root: root})
	if res := runOnce(t, l); res.Files == 0 {
		t.Errorf("the last pass had no work left: the kills did not interrupt the backlog")
	}
	for _, letter := range []byte("AU") {
		name := string(letter) + t0.Format("20060102")
		if n := testdb.Count(t, db, name); n != rows {
			t.Errorf("%s: %d rows, want %d", name, n, rows)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(logfile.LoadDir(root), "*.load")); len(left) != 0 {
		t.Errorf("%d load_files left", len(left))
	}
}

func loaderChild(root string) {
	ctx := context.Background()
	db, err := mariadb.Open(ctx, os.Getenv("ACSTORE_LOADER_DSN"))
	if err != nil {
		panic(err)
	}
	// Small batches: more statements to be killed in the middle of.
	l, err := loader.New(loader.Config{Root: root, MaxBatchFiles: 3}, db)
	if err != nil {
		panic(err)
	}
	l.RunOnce(ctx)
	os.Exit(0)
}

// TestRetention drops old day tables and sync_files by the same rule.
func TestRetention(t *testing.T) {
	db, _ := testdb.New(t)
	root := t.TempDir()
	old := time.Date(2026, 10, 1, 12, 0, 0, 0, time.Local)
	writeRows(t, root, "Q", 10, 10, old, 9, false)
	writeRows(t, root, "Q", 10, 10, t0, 10, false)
	l := newLoader(t, db, loader.Config{Root: root, KeepDays: 30})
	runOnce(t, l)
	if err := l.Retention(context.Background(), t0); err != nil {
		t.Fatal(err)
	}
	tables, _ := mariadb.Tables(context.Background(), db)
	if strings.Join(tables, ",") != "Q20261121" {
		t.Errorf("tables after retention: %v, want only Q20261121", tables)
	}
	if _, err := os.Stat(filepath.Join(root, "sync", gw, "20261001")); !os.IsNotExist(err) {
		t.Errorf("old sync_files not deleted: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "sync", gw, "20261121")); err != nil {
		t.Errorf("today's sync_files deleted: %v", err)
	}
}
