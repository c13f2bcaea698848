package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/pcapgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

const testGW = "5F86F7A5"

// buildTools builds aclog and loader once per test.
func buildTools(t *testing.T) (aclog, loader string) {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{".", "../loader"} {
		if out, err := exec.Command("go", "build", "-o", dir+"/", p).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", p, err, out)
		}
	}
	return filepath.Join(dir, "aclog"), filepath.Join(dir, "loader")
}

// genCaptures writes two generated captures, the second starting where
// the first ends, so their rows share a 5-minute window, plus a real one.
func genCaptures(t *testing.T, packets int) []string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for i, start := range []string{"2026-01-01T00:01:00Z", "2026-01-01T00:03:30Z"} {
		st, _ := time.Parse(time.RFC3339, start)
		p := filepath.Join(dir, fmt.Sprintf("gen%d.pcap", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pcapgen.Write(f, pcapgen.Config{Seed: uint64(i + 1), Packets: packets, Start: st}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		files = append(files, p)
	}
	return append(files, "testdata/pcaps/mixed/tls-subjectaltname_input.pcap")
}

// syncRows returns every row of the published sync_files, sorted, per
// file name.
func syncRows(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := logfile.WalkSync(root, func(path string, n logfile.Name) error {
		if n.Table == schema.Attachments {
			return nil
		}
		rs, err := logfile.OpenRows(path, logfile.LZ4)
		if err != nil {
			return err
		}
		defer rs.Close()
		rows := logfile.NewRows(rs)
		for rows.Next() {
			out[n.String()] = append(out[n.String()], string(rows.Row()))
		}
		sort.Strings(out[n.String()])
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameRows(t *testing.T, what string, got, want map[string][]string) {
	t.Helper()
	total := 0
	for name, w := range want {
		g := got[name]
		total += len(w)
		if len(g) != len(w) {
			t.Errorf("%s %s: %d rows, one clean run has %d", what, name, len(g), len(w))
			continue
		}
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("%s %s: row %d differs:\n got %s\nwant %s", what, name, i, g[i], w[i])
				break
			}
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: %s is not in one clean run", what, name)
		}
	}
	if total == 0 {
		t.Fatalf("%s: no rows at all", what)
	}
}

// tableRows returns every row of every day table of db as text, sorted.
func tableRows(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	names, err := db.Query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for names.Next() {
		var n string
		names.Scan(&n)
		tables = append(tables, n)
	}
	names.Close()
	out := map[string][]string{}
	for _, tb := range tables {
		rows, err := db.Query("SELECT * FROM `" + tb + "`")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			for _, v := range vals {
				b.Write(v)
				b.WriteByte('\t')
			}
			out[tb] = append(out[tb], b.String())
		}
		rows.Close()
		sort.Strings(out[tb])
	}
	return out
}

// TestKilledAndRunAgain kills aclog -r with SIGKILL at random moments
// while it provably has a capture begun and not finished, loads what it
// left, and runs it again, until a run finishes: the sync_files and the
// day tables then hold exactly the rows of one clean run. Running the
// finished captures once more adds nothing.
func TestKilledAndRunAgain(t *testing.T) {
	cleanDB, cleanDSN := testdb.New(t)
	aclog, loader := buildTools(t)
	files := genCaptures(t, 80000)
	args := func(root string) []string {
		// Files first, flags after them, as the README shows.
		return append(append([]string{}, files...), "-data", root, "-gateway", testGW,
			"-load-interval", "50ms", "-stats-interval", "0", "-log-level", "warn")
	}
	load := func(root, dsn string) {
		t.Helper()
		if out, err := exec.Command(loader, "-once", "-data", root, "-dsn", dsn, "-log-level", "warn").CombinedOutput(); err != nil {
			t.Fatalf("loader -once: %v\n%s", err, out)
		}
	}

	clean := t.TempDir()
	began := time.Now()
	if out, err := exec.Command(aclog, args(clean)...).CombinedOutput(); err != nil {
		t.Fatalf("clean run: %v\n%s", err, out)
	}
	cleanTook := time.Since(began)
	load(clean, cleanDSN)

	// The kills come at random moments scaled by the clean run's time. The
	// machine's load may change between that run and these: a round whose
	// runs all finish before their kills is done again from the start, on
	// a shorter scale, until kills land mid-capture.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var root string
	var db *sql.DB
	var dsn string
	for scale, round := cleanTook, 0; ; scale, round = scale/2, round+1 {
		root = t.TempDir()
		db, dsn = testdb.New(t)
		midWork := killRuns(t, aclog, args(root), root, scale, rng, func() { load(root, dsn) })
		load(root, dsn)
		if midWork >= 2 {
			t.Logf("%d kills landed mid-capture; a clean run takes %v", midWork, cleanTook)
			break
		}
		if round == 4 {
			t.Fatalf("only %d kills landed while a capture was being processed, at every scale down to %v; the test proves nothing", midWork, scale)
		}
		t.Logf("only %d kills landed mid-capture at scale %v; again at half the scale", midWork, scale)
	}
	want := syncRows(t, clean)
	sameRows(t, "sync_files", syncRows(t, root), want)
	wantDB := tableRows(t, cleanDB)
	sameRows(t, "tables", tableRows(t, db), wantDB)

	// Finished captures again, under other names: skipped, nothing added.
	again := t.TempDir()
	for i, f := range files {
		data, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(again, fmt.Sprintf("renamed%d.pcap", i)), data, 0o644)
	}
	cmd := exec.Command(aclog, "-r", again, "-data", root, "-gateway", testGW, "-stats-interval", "0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run again: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "capture already processed; skipping it"); n != len(files) {
		t.Errorf("run again: %d skip lines, want %d\n%s", n, len(files), out)
	}
	load(root, dsn)
	sameRows(t, "sync_files after running again", syncRows(t, root), want)
	sameRows(t, "tables after running again", tableRows(t, db), wantDB)
}

// killRuns runs aclog with args up to 6 times, each killed with SIGKILL
// at a random moment in the first half of scale (load, a running loader's
// work, follows each kill), then once to its end; it returns how many
// kills provably landed mid-work: the ledger then held a capture begun and
// not finished.
func killRuns(t *testing.T, aclog string, args []string, root string, scale time.Duration, rng *rand.Rand, load func()) (midWork int) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(aclog, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if attempt >= 6 {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("last run: %v\n%s", err, out.String())
			}
			return midWork
		}
		// The run may also be skipping what earlier attempts finished.
		time.Sleep(scale/10 + time.Duration(rng.Int64N(int64(scale/2)+1)))
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if err == nil {
			return midWork // finished before the kill
		}
		open, _ := os.ReadFile(filepath.Join(root, "state", "aclog", "open.json"))
		if strings.Contains(string(open), `"slot"`) {
			midWork++
		}
		t.Logf("attempt %d: %v; unfinished: %s", attempt, err, open)
		load()
	}
}

// TestReprocess: -reprocess replaces a capture's rows in the sync_files
// with rows of the same ids (here named by a changed users.tsv), so the
// files never hold a row twice and the tables, loading idempotently by id,
// keep one row per id.
func TestReprocess(t *testing.T) {
	db, dsn := testdb.New(t)
	aclog, loader := buildTools(t)
	root := t.TempDir()
	capture := "testdata/pcaps/mixed/tls-subjectaltname_input.pcap"
	users := filepath.Join(root, "config", "users.tsv")
	os.MkdirAll(filepath.Dir(users), 0o755)
	os.WriteFile(users, []byte("192.168.100.206\talice\tSales\n"), 0o644)
	aclogRun := func(extra ...string) string {
		t.Helper()
		out, err := exec.Command(aclog, append([]string{capture, "-data", root, "-gateway", testGW, "-stats-interval", "0"}, extra...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("aclog %v: %v\n%s", extra, err, out)
		}
		if out, err := exec.Command(loader, "-once", "-data", root, "-dsn", dsn).CombinedOutput(); err != nil {
			t.Fatalf("loader: %v\n%s", err, out)
		}
		return string(out)
	}
	aclogRun()
	before := syncRows(t, root)
	tablesBefore := tableRows(t, db)
	os.WriteFile(users, []byte("192.168.100.206\tcarol\tSales\n"), 0o644)
	aclogRun("-reprocess")
	after := syncRows(t, root)
	ids := func(rows map[string][]string) map[string]bool {
		out := map[string]bool{}
		for name, rs := range rows {
			for _, r := range rs {
				id, _, _ := strings.Cut(r, "\t")
				if out[name+" "+id] {
					t.Errorf("%s: id %s twice", name, id)
				}
				out[name+" "+id] = true
			}
		}
		return out
	}
	idsBefore, idsAfter := ids(before), ids(after)
	if len(idsBefore) == 0 || len(idsBefore) != len(idsAfter) {
		t.Fatalf("%d rows before -reprocess, %d after", len(idsBefore), len(idsAfter))
	}
	for id := range idsBefore {
		if !idsAfter[id] {
			t.Errorf("id %s gone after -reprocess", id)
		}
	}
	carol := 0
	for _, rs := range after {
		for _, r := range rs {
			if strings.Contains(r, "\tcarol\t") {
				carol++
			}
			if strings.Contains(r, "\talice\t") {
				t.Fatalf("a row of the first processing is still in the sync_files: %s", r)
			}
		}
	}
	if carol == 0 {
		t.Error("no row names the user of the changed users.tsv")
	}
	// The tables keep one row per id: the first processing's (README:
	// rebuild a day with recover -table to take changed rows).
	tablesAfter := tableRows(t, db)
	for name, rs := range tablesBefore {
		if len(tablesAfter[name]) != len(rs) {
			t.Errorf("%s: %d rows after -reprocess, %d before", name, len(tablesAfter[name]), len(rs))
		}
	}
}
