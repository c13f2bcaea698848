package datasync_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

// bigRows is the size of the huge file: about 100 MB of A rows, loaded in
// statements of loadStatement bytes, about a hundred of them.
const (
	bigRows       = 300000
	loadStatement = 1 << 20
)

// writeBig writes one window of gw holding n rows of table A alone: one
// big sync_file.
func writeBig(t testing.TB, root, gw string, w time.Time, n int) {
	t.Helper()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, HighPerformance: true})
	if err != nil {
		t.Fatal(err)
	}
	g := rowgen.New(99, false)
	a, _ := schema.ByLetter('A')
	for i := range n {
		if err := g.Row(sp, a, w.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if i%50000 == 49999 {
			if err := sp.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
}

// gwRows counts gw's rows in table (0 when there is no table yet).
func gwRows(db *sql.DB, table, gw string) int {
	var n int
	db.QueryRow("SELECT COUNT(*) FROM "+mariadb.Quote(table)+" WHERE gw = ?", gw).Scan(&n)
	return n
}

// gwLoaded is the window the server's state says gw has loaded.
func gwLoaded(t testing.TB, hoRoot, gw string) string {
	st, err := datasync.ReadServerState(hoRoot)
	if err != nil || st[gw] == nil {
		return ""
	}
	return st[gw].LastLoaded
}

// TestBigLoadDoesNotStallOthers: while branch A's huge file is loading
// (provably: some of its rows are in the table, not all, and its window is
// not loaded), branch B ships small windows into the same day tables, and
// their rows are all in and B's windows recorded loaded before A's load
// ends. Serialised loads (one gateway at a time, or a file in one
// statement holding the MyISAM table) fail it.
func TestBigLoadDoesNotStallOthers(t *testing.T) {
	db, _ := testdb.New(t)
	hoRoot, bigRoot, smallRoot := t.TempDir(), t.TempDir(), t.TempDir()
	srv := startServer(t, hoRoot, db, nil, func(c *datasync.ServerConfig) {
		c.LoadWorkers, c.LoadStatementBytes = 4, loadStatement
	})
	table := "A" + t0.Format(schema.DayLayout)
	win := t0.Format(datasync.WindowLayout)

	// B alone first: its latency with nothing else loading.
	writeWindow(t, smallRoot, gwB, t0.Add(-10*time.Minute), 1, 50)
	start := time.Now()
	push(t, clientConfig(t, smallRoot, gwB, srv.URL, nil))
	waitUntil(t, time.Minute, "B's first window to be loaded", func() bool {
		return gwLoaded(t, hoRoot, gwB) == t0.Add(-10*time.Minute).Format(datasync.WindowLayout)
	})
	alone := time.Since(start)

	writeBig(t, bigRoot, gwA, t0, bigRows)
	push(t, clientConfig(t, bigRoot, gwA, srv.URL, nil))
	waitUntil(t, 5*time.Minute, "A's load to begin", func() bool { return gwRows(db, table, gwA) > 0 })
	began := gwRows(db, table, gwA)

	smallWindows := []time.Time{t0, t0.Add(5 * time.Minute)}
	start = time.Now()
	for i, w := range smallWindows {
		writeWindow(t, smallRoot, gwB, w, uint64(10+i), 50)
	}
	push(t, clientConfig(t, smallRoot, gwB, srv.URL, nil))
	smallRows := fileDigests(t, smallRoot, gwB)[table].rows
	lastSmall := smallWindows[len(smallWindows)-1].Format(datasync.WindowLayout)
	waitUntil(t, 5*time.Minute, "B's windows to be loaded", func() bool { return gwLoaded(t, hoRoot, gwB) == lastSmall })
	during := time.Since(start)
	bigThen, smallThen := gwRows(db, table, gwA), gwRows(db, table, gwB)
	aLoaded := gwLoaded(t, hoRoot, gwA)
	t.Logf("B's push to loaded: %v alone, %v while A's %d-row file loads (A had %d rows in at B's push, %d when B was loaded)",
		alone.Round(time.Millisecond), during.Round(time.Millisecond), bigRows, began, bigThen)
	if smallThen != smallRows {
		t.Errorf("B's windows recorded loaded with %d rows of %s in, want %d", smallThen, table, smallRows)
	}
	if bigThen >= bigRows || aLoaded == win {
		t.Errorf("A's load was over before B's windows loaded (A: %d of %d rows, last loaded %q): B waited for it", bigThen, bigRows, aLoaded)
	}

	waitUntil(t, 10*time.Minute, "A's load to end", func() bool { return gwLoaded(t, hoRoot, gwA) == win })
	checkRows(t, db, bigRoot, gwA)
	checkRows(t, db, smallRoot, gwB)
}

// TestKill9MidLoad kills a loading head office (SIGKILL) again and again
// while branch A's huge file is part-way into its table and branch B's
// windows load beside it, restarting it each time; after a last load the
// tables hold every row of both branches' files exactly once.
func TestKill9MidLoad(t *testing.T) {
	if os.Getenv("DATASYNC_CHILD") == "loadserver" {
		loadServerChild()
		return
	}
	db, dsn := testdb.New(t)
	hoRoot, bigRoot, smallRoot := t.TempDir(), t.TempDir(), t.TempDir()
	writeBig(t, bigRoot, gwA, t0, bigRows)
	for i := range 6 {
		writeWindow(t, smallRoot, gwB, t0.Add(time.Duration(5*i)*time.Minute), uint64(30+i), 300)
	}
	// Received by a server without a database: everything is here and
	// committed before the first load.
	recv := startServer(t, hoRoot, nil, nil, nil)
	push(t, clientConfig(t, bigRoot, gwA, recv.URL, nil))
	push(t, clientConfig(t, smallRoot, gwB, recv.URL, nil))
	recv.Stop()

	table := "A" + t0.Format(schema.DayLayout)
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9MidLoad$")
		cmd.Env = append(os.Environ(), "DATASYNC_CHILD=loadserver", "DATASYNC_HO="+hoRoot, "DATASYNC_DSN="+dsn)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rng := rand.New(rand.NewPCG(5, 6))
	type kill struct{ before, after, small int }
	var kills []kill
	last := 0
	for len(kills) < 6 {
		srv := child()
		// Once this life has loaded rows of A's file past the last one's,
		// at a random moment after.
		waitUntil(t, 5*time.Minute, "A's load to get further", func() bool { return gwRows(db, table, gwA) > last })
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		k := kill{before: gwRows(db, table, gwA)}
		srv.Process.Kill()
		srv.Wait()
		k.after, k.small = gwRows(db, table, gwA), gwRows(db, table, gwB)
		kills = append(kills, k)
		if k.after == bigRows {
			break
		}
		last = k.after
	}
	mid := 0
	for i, k := range kills {
		t.Logf("kill %d: A had %d of %d rows in just before, %d after; B %d rows of %s", i+1, k.before, bigRows, k.after, k.small, table)
		if k.after > 0 && k.after < bigRows {
			mid++
		}
	}
	if mid < 4 {
		t.Errorf("%d of %d kills landed in the middle of A's file, want at least 4", mid, len(kills))
	}
	srv := startServer(t, hoRoot, db, nil, nil)
	loadAll(t, srv)
	checkRows(t, db, bigRoot, gwA)
	checkRows(t, db, smallRoot, gwB)
	if got, want := gwLoaded(t, hoRoot, gwA), t0.Format(datasync.WindowLayout); got != want {
		t.Errorf("A's last loaded window %q, want %s", got, want)
	}
	if got, want := gwLoaded(t, hoRoot, gwB), t0.Add(25*time.Minute).Format(datasync.WindowLayout); got != want {
		t.Errorf("B's last loaded window %q, want %s", got, want)
	}
}

// loadServerChild is a head office that loads what is received, in
// statements of loadStatement bytes, until it is killed.
func loadServerChild() {
	ctx := context.Background()
	db, err := mariadb.Open(ctx, os.Getenv("DATASYNC_DSN"))
	if err != nil {
		panic(err)
	}
	srv, err := datasync.NewServer(datasync.ServerConfig{Root: os.Getenv("DATASYNC_HO"), Gateways: gateways(),
		TLS: datasync.TLSFiles{Insecure: true}, LoadInterval: 200 * time.Millisecond,
		LoadWorkers: 4, LoadStatementBytes: loadStatement, WindowPast: 20 * 365 * 24 * time.Hour}, db)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv.Serve(ctx, ln)
	os.Exit(0)
}
