package rebuild_test

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

const gw = "0A0B0C0D"

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.Local)

// setup writes rows of the given tables over two days and loads them.
func setup(t *testing.T, letters string, perWindow int) (*sql.DB, string, string) {
	t.Helper()
	db, dsn := testdb.New(t)
	root := t.TempDir()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, MaxLoadBacklog: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	g := rowgen.New(11, true)
	for _, day := range []time.Time{t0, t0.AddDate(0, 0, 1)} {
		for w := 0; w < 3; w++ {
			for i := 0; i < perWindow; i++ {
				for _, l := range []byte(letters) {
					tb, _ := schema.ByLetter(l)
					if err := g.Row(sp, tb, day.Add(time.Duration(w)*logfile.WindowLength+time.Duration(i)*time.Millisecond)); err != nil {
						t.Fatal(err)
					}
				}
			}
			sp.Flush()
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	load(t, db, root)
	return db, dsn, root
}

// load loads root's load_files into db, as loader does on a branch.
func load(t testing.TB, db *sql.DB, root string) {
	t.Helper()
	l, err := loader.New(loader.Config{Root: root}, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRebuildTable(t *testing.T) {
	db, _, root := setup(t, "AQ", 200)
	name := schema.DayTable('A', t0)
	// Lose rows and gain a stray one.
	if _, err := db.Exec("DELETE FROM " + name + " WHERE id % 7 = 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO " + name + " SELECT id + 1000000, gw, ts, " + restColumns('A') + " FROM " + name + " LIMIT 1"); err != nil {
		t.Fatal(err)
	}
	r := &rebuild.Rebuilder{Root: root, DB: db, Attempts: 3}
	ms, err := r.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Table != name || ms[0].Files.Rows != 600 || ms[0].Rows.Rows >= 600 {
		t.Fatalf("check found %v, want one mismatch on %s with 600 rows in files", ms, name)
	}
	res, err := r.Table(context.Background(), 'A', t0.Format("20060102"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 600 || res.Files != 3 || res.Attempts != 1 {
		t.Errorf("rebuild result %+v, want 600 rows from 3 files at the first attempt", res)
	}
	if n := testdb.Count(t, db, name); n != 600 {
		t.Errorf("%d rows after rebuild, want 600", n)
	}
	if ms, _ := r.Check(context.Background()); len(ms) != 0 {
		t.Errorf("check after rebuild: %v", ms)
	}
	var leftovers int
	db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '%\\_rebuild' OR TABLE_NAME LIKE '%\\_old'").Scan(&leftovers)
	if leftovers != 0 {
		t.Errorf("%d shadow tables left behind", leftovers)
	}
}

// TestAll rebuilds everything after the database was lost.
func TestAll(t *testing.T) {
	db, _, root := setup(t, schema.ShipOrder, 50)
	tables, _ := dbTables(db)
	for _, tb := range tables {
		db.Exec("DROP TABLE " + tb)
	}
	r := &rebuild.Rebuilder{Root: root, DB: db, Attempts: 3}
	var calls int
	results, err := r.All(context.Background(), func(done, total int, _ rebuild.Result) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2*len(schema.ShipOrder) || calls != len(results) {
		t.Fatalf("%d tables rebuilt (%d progress calls), want %d", len(results), calls, 2*len(schema.ShipOrder))
	}
	for _, res := range results {
		if n := testdb.Count(t, db, res.Table); n != 150 {
			t.Errorf("%s: %d rows, want 150", res.Table, n)
		}
	}
	if ms, _ := r.Check(context.Background()); len(ms) != 0 {
		t.Errorf("check after -all: %v", ms)
	}
}

// TestRebuildUsesOpenWindow: the .part file of an open window counts, up to
// its last complete row.
func TestRebuildUsesOpenWindow(t *testing.T) {
	db, _ := testdb.New(t)
	root := t.TempDir()
	sp, _ := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw})
	tb, _ := schema.ByLetter('T')
	g := rowgen.New(12, false)
	for i := 0; i < 100; i++ {
		g.Row(sp, tb, t0)
	}
	sp.Flush() // not closed: the window stays a .part file
	part := logfile.Name{Window: t0, Gateway: gw, Table: 'T'}.Path(root) + ".part"
	f, _ := os.OpenFile(part, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0x04, 0x22, 0x4d, 0x18, 0x64}) // a torn next frame
	f.Close()
	r := &rebuild.Rebuilder{Root: root, DB: db}
	res, err := r.Table(context.Background(), 'T', t0.Format("20060102"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 100 || res.Torn != 1 {
		t.Errorf("rebuild %+v, want 100 rows with 1 torn file", res)
	}
}

func dbTables(db *sql.DB) ([]string, error) {
	rows, err := db.Query("SHOW TABLES")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out, nil
}

// TestRecoverCommand runs the recover program as an operator would.
func TestRecoverCommand(t *testing.T) {
	db, dsn, root := setup(t, "UF", 100)
	bin := filepath.Join(t.TempDir(), "recover")
	if out, err := exec.Command("go", "build", "-o", bin, "../../recover").CombinedOutput(); err != nil {
		t.Fatalf("build recover: %v\n%s", err, out)
	}
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"-data", root, "-dsn", dsn}, args...)...)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	if out, code := run("-check"); code != 0 || !strings.Contains(out, "all tables match") {
		t.Fatalf("-check on a good database: exit %d\n%s", code, out)
	}
	day := t0.AddDate(0, 0, 1).Format("20060102")
	db.Exec("DELETE FROM F" + day + " LIMIT 10")
	db.Exec("DROP TABLE U" + t0.Format("20060102"))
	db.Exec("UPDATE F" + t0.Format("20060102") + " SET bytes_up = bytes_up + 1 LIMIT 1")
	out, code := run("-check")
	if code != 1 || !strings.Contains(out, "F"+day+" gw "+gw+": 300 rows in sync_files, 290 in the table") ||
		!strings.Contains(out, "U"+t0.Format("20060102")+": table missing") ||
		!strings.Contains(out, "F"+t0.Format("20060102")+" gw "+gw+": 300 rows in both, but their contents differ") {
		t.Fatalf("-check with three problems: exit %d\n%s", code, out)
	}
	if out, code := run("-check", "-repair"); code != 0 || strings.Count(out, "\nrebuilt ") != 3 {
		t.Fatalf("-check -repair: exit %d\n%s", code, out)
	}
	if out, code := run("-check"); code != 0 {
		t.Fatalf("-check after repair: exit %d\n%s", code, out)
	}
	if out, code := run("-table", "Z", "-day", day); code != 1 || !strings.Contains(out, "unknown table letter") {
		t.Errorf("bad letter: exit %d\n%s", code, out)
	}
	if out, code := run("-table", "A"); code != 1 || !strings.Contains(out, "-day a date YYYYMMDD") {
		t.Errorf("missing day: exit %d\n%s", code, out)
	}
	if out, code := run("-table", "F", "-day", day); code != 0 || !strings.Contains(out, "rebuilt F"+day+": 300 rows from 3 files") {
		t.Errorf("-table F: exit %d\n%s", code, out)
	}
}

// restColumns lists the columns of table letter after id, gw and ts.
func restColumns(letter byte) string {
	tb, _ := schema.ByLetter(letter)
	var cols []string
	for _, c := range tb.Columns[3:] {
		cols = append(cols, "`"+c.Name+"`")
	}
	return strings.Join(cols, ", ")
}

// TestCheckEarlierLayout: -check reports a day table with the columns of
// an earlier layout as such (not as rows that differ), and -repair
// upgrades it in place, keeping its rows; what then differs from the files
// is repaired as any difference is.
func TestCheckEarlierLayout(t *testing.T) {
	db, _, root := setup(t, "U", 20)
	ctx := context.Background()
	name := schema.DayTable('U', t0)
	if _, err := db.Exec("ALTER TABLE " + name + " DROP COLUMN app_type, DROP COLUMN repeat_count, DROP COLUMN last_ts"); err != nil {
		t.Fatal(err)
	}
	r := &rebuild.Rebuilder{Root: root, DB: db, Attempts: 3}
	ms, err := r.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Table != name || !ms[0].Upgrade || !strings.Contains(ms[0].String(), "earlier layout") {
		t.Fatalf("check found %v, want %s reported as an earlier layout", ms, name)
	}
	if _, err := r.Repair(ctx, ms); err != nil {
		t.Fatal(err)
	}
	if n := testdb.Count(t, db, name); n != 60 {
		t.Errorf("%d rows after the upgrade, want 60", n)
	}
	var one int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + name + " WHERE repeat_count = 1 AND last_ts IS NULL").Scan(&one); err != nil || one != 60 {
		t.Errorf("%d upgraded rows count one request, want 60 (%v)", one, err)
	}
	// The files hold repeat counts the old columns lost: a difference in
	// content, which -repair rebuilds from the files.
	ms, err = r.Check(ctx)
	if err != nil || len(ms) != 1 || ms[0].Upgrade || ms[0].Files.Rows != 60 || ms[0].Rows.Rows != 60 {
		t.Fatalf("check after the upgrade: %v %v", ms, err)
	}
	if _, err := r.Repair(ctx, ms); err != nil {
		t.Fatal(err)
	}
	if ms, err := r.Check(ctx); err != nil || len(ms) != 0 {
		t.Errorf("check after the repair: %v %v", ms, err)
	}
}
