package datasync_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/bytesize"
	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/testdb"
	"github.com/acstore/acstore/internal/testenv"
)

// TestAbandonedUpload: connections cut mid-file leave partial uploads
// under incoming/; once idle for longer than -incoming-ttl housekeeping
// removes them, and the branch's next push sends those files again from
// the start (nothing resumed on bytes that are gone), ending with exactly
// the branch's rows at head office.
func TestAbandonedUpload(t *testing.T) {
	db, _ := testdb.New(t)
	hoRoot, root := t.TempDir(), t.TempDir()
	srv := startServer(t, hoRoot, db, nil, func(c *datasync.ServerConfig) { c.IncomingTTL = time.Minute })
	att := branch(t, root, gwA, 5, 1500, logfile.LZ4)
	proxy := newCutProxy(t, srv.Addr, 1000, 200<<10)
	cfg := clientConfig(t, root, gwA, "http://"+proxy.ln.Addr().String(), nil)
	cfg.Retries, cfg.FrameSize = 1, 16<<10
	var parts []string
	for i := 0; i < 20 && len(parts) == 0; i++ {
		c, err := datasync.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.RunOnce(context.Background()); err == nil {
			t.Fatal("push through a proxy cutting every connection succeeded")
		}
		c.Close()
		parts = partials(t, hoRoot)
	}
	if len(parts) == 0 {
		t.Fatal("no partial upload left under incoming/")
	}
	sizes := partSizes(parts)
	// Housekeeping's clock: a pass now keeps them, one past the TTL
	// (without waiting a minute) removes them.
	if err := srv.Housekeep(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if left := partials(t, hoRoot); len(left) != len(parts) {
		t.Fatalf("fresh partial uploads removed: %d of %d left", len(left), len(parts))
	}
	if err := srv.Housekeep(context.Background(), time.Now().Add(time.Minute+time.Second)); err != nil {
		t.Fatal(err)
	}
	if left := partials(t, hoRoot); len(left) != 0 {
		t.Fatalf("abandoned uploads left: %v", left)
	}
	if n := srv.Stats().IncomingExpired.Load(); n != uint64(len(parts)) {
		t.Errorf("incoming_expired = %d, want %d", n, len(parts))
	}
	resumed := srv.Stats().Resumed.Load()
	push(t, clientConfig(t, root, gwA, srv.URL, nil))
	if n := srv.Stats().Resumed.Load() - resumed; n != 0 {
		t.Errorf("%d uploads resumed on bytes housekeeping removed", n)
	}
	loadAll(t, srv)
	checkHeadOffice(t, db, hoRoot, root, gwA, att)
	t.Logf("%d partial upload(s) of %v abandoned, removed after -incoming-ttl, sent again whole", len(parts), sizes)
}

func partials(t testing.TB, hoRoot string) []string {
	t.Helper()
	var out []string
	paths, _ := filepath.Glob(filepath.Join(hoRoot, "incoming", "*", "*.part"))
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			out = append(out, p)
		}
	}
	return out
}

func partSizes(paths []string) []int64 {
	var out []int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			out = append(out, fi.Size())
		}
	}
	return out
}

// TestReloadOnSIGHUP: while gateway A's push is on the wire (slowed by
// -bwlimit), the gateways file gains gateway B and the server's
// certificate is replaced, and the process gets a real SIGHUP. B, unknown
// and unable to verify the old certificate before, then pushes; A's push
// finishes on its connection without a retry; head office holds exactly
// both branches' rows.
func TestReloadOnSIGHUP(t *testing.T) {
	db, _ := testdb.New(t)
	p1, p2 := newPKI(t, gwA), newPKI(t, gwB)
	dir := t.TempDir()
	gwFile := filepath.Join(dir, "gateways")
	writeFile(t, gwFile, gwA+" "+secretA+"\n")
	cert, key := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	copyFile(t, p1.cert, cert)
	copyFile(t, p1.key, key)
	bothCAs := filepath.Join(dir, "cas.pem")
	writeFile(t, bothCAs, readFile(t, p1.ca)+readFile(t, p2.ca))

	hoRoot, rootA, rootB := t.TempDir(), t.TempDir(), t.TempDir()
	srv := startServer(t, hoRoot, db, p1, func(c *datasync.ServerConfig) {
		c.Gateways, c.GatewaysFile = nil, gwFile
		c.TLS.Cert, c.TLS.Key = cert, key
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv.ReloadOn(ctx, syscall.SIGHUP)

	attA := branch(t, rootA, gwA, 6, 600, logfile.LZ4)
	attB := branch(t, rootB, gwB, 7, 50, logfile.LZ4)
	cfgB := clientConfig(t, rootB, gwB, srv.URL, p2)
	cfgB.Retries = 1
	if c, err := datasync.NewClient(cfgB); err != nil {
		t.Fatal(err)
	} else if err := c.RunOnce(ctx); err == nil {
		t.Fatal("gateway B pushed before it was added")
	}

	cfgA := clientConfig(t, rootA, gwA, srv.URL, p1)
	cfgA.TLS.CA = bothCAs
	cfgA.BWLimit = 512 << 10 // about 5 s on the wire: room for B under a loaded CI
	cA, err := datasync.NewClient(cfgA)
	if err != nil {
		t.Fatal(err)
	}
	defer cA.Close()
	doneA := make(chan error, 1)
	go func() { doneA <- cA.RunOnce(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().Active.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("A's upload never started")
		}
		time.Sleep(5 * time.Millisecond)
	}

	writeFile(t, gwFile, gwA+" "+secretA+"\n"+gwB+" "+secretB+"\n")
	copyFile(t, p2.cert, cert)
	copyFile(t, p2.key, key)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var errB error
	for time.Now().Before(deadline) {
		c, err := datasync.NewClient(cfgB)
		if err != nil {
			t.Fatal(err)
		}
		errB = c.RunOnce(ctx)
		c.Close()
		if errB == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if errB != nil {
		t.Fatalf("gateway B after SIGHUP: %v", errB)
	}
	select {
	case err := <-doneA:
		t.Fatalf("A's push was over before B's (%v): the test did not overlap them; slow A down", err)
	default:
	}
	if err := <-doneA; err != nil {
		t.Fatalf("A's push across the reload: %v", err)
	}
	if n := cA.Stats().Retries.Load(); n != 0 {
		t.Errorf("A's push retried %d times across the reload: a connection was dropped", n)
	}
	loadAll(t, srv)
	checkHeadOffice(t, db, hoRoot, rootA, gwA, attA)
	checkHeadOffice(t, db, hoRoot, rootB, gwB, attB)
	t.Logf("A shipped %d bytes at 512 KB/s across the SIGHUP; B added and shipped %d files meanwhile", cA.Stats().Bytes.Load(), 4*12)
}

// TestHeadOfficeRetention: two gateways' days on a real 16 MiB tmpfs.
// Above -disk-high the oldest day goes first, for every gateway (files,
// attachments, day tables, the ledger's day), and only it; -keep-days
// then removes the days past it; what stays has exactly its rows.
func TestHeadOfficeRetention(t *testing.T) {
	db, _ := testdb.New(t)
	hoRoot := t.TempDir()
	testenv.Tmpfs(t, hoRoot, "16m")
	twoGateways(t, hoRoot, db, 8, 300, 9, 300)
	const day1, day2 = "20261120", "20261121"
	for _, gw := range []string{gwA, gwB} {
		for _, d := range []string{day1, day2} {
			for _, dir := range []string{"sync", "attachments"} {
				if _, err := os.Stat(filepath.Join(hoRoot, dir, gw, d)); err != nil {
					t.Fatalf("before: %v", err)
				}
			}
		}
	}
	rowsDay2 := testdb.Count(t, db, "A"+day2)

	used, err := retention.Used(hoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var day1Bytes int64
	for _, gw := range []string{gwA, gwB} {
		for _, dir := range []string{"sync", "attachments"} {
			day1Bytes += dirBytes(t, filepath.Join(hoRoot, dir, gw, day1))
		}
	}
	share := 100 * float64(day1Bytes) / float64(16<<20)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.Local)
	srv := startServer(t, hoRoot, db, nil, func(c *datasync.ServerConfig) { c.Disk = retention.Watermarks{High: used - share/2} })
	if err := srv.Housekeep(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	gone := func(step, d string, want bool) {
		t.Helper()
		for _, gw := range []string{gwA, gwB} {
			for _, dir := range []string{"sync", "attachments"} {
				_, err := os.Stat(filepath.Join(hoRoot, dir, gw, d))
				if os.IsNotExist(err) != want {
					t.Errorf("%s: %s/%s/%s removed=%v, want %v", step, dir, gw, d, os.IsNotExist(err), want)
				}
			}
		}
		if _, err := os.Stat(filepath.Join(hoRoot, "state", "loaded", d+".ledger")); os.IsNotExist(err) != want {
			t.Errorf("%s: ledger of %s removed=%v, want %v", step, d, os.IsNotExist(err), want)
		}
		var n int
		db.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?", "%"+d).Scan(&n)
		if (n == 0) != want {
			t.Errorf("%s: %d tables of %s left, want removed=%v", step, n, d, want)
		}
	}
	gone("disk-high", day1, true)
	gone("disk-high", day2, false)
	if n := testdb.Count(t, db, "A"+day2); n != rowsDay2 {
		t.Errorf("A%s has %d rows after the disk pass, want %d", day2, n, rowsDay2)
	}
	after, _ := retention.Used(hoRoot)
	t.Logf("tmpfs 16 MiB: %.1f%% used, -disk-high %.1f: removed day %s (%d bytes of files), %.1f%% used after", used, used-share/2, day1, day1Bytes, after)

	srv = startServer(t, hoRoot, db, nil, func(c *datasync.ServerConfig) { c.KeepDays = 1 })
	if err := srv.Housekeep(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	gone("keep-days 1", day2, true)
}

// TestGatewayQuota: one gateway above -disk-high percent of its -quota
// loses its oldest day, whole (files, attachments, its rows in that day's
// tables), and only that; the other gateway keeps every file and row.
func TestGatewayQuota(t *testing.T) {
	db, _ := testdb.New(t)
	hoRoot := t.TempDir()
	rootB, attB := twoGateways(t, hoRoot, db, 10, 300, 11, 50)
	const day1, day2 = "20261120", "20261121"
	roller, err := rollup.New(rollup.Config{Root: hoRoot, Workers: 1}, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roller.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	gwBytes := func(gw, day string) int64 {
		return dirBytes(t, filepath.Join(hoRoot, "sync", gw, day)) + dirBytes(t, filepath.Join(hoRoot, "attachments", gw, day))
	}
	rows := func(table, gw string) int {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM `"+table+"` WHERE gw = ?", gw).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	usedA := gwBytes(gwA, day1) + gwBytes(gwA, day2)
	a2 := rows("A"+day2, gwA)
	if rows("A"+day1, gwA) == 0 || a2 == 0 {
		t.Fatal("gateway A has no rows to lose")
	}
	dayA := gwBytes(gwA, day1)
	quota := usedA - dayA/2 // A over by half its first day; B far below
	srv := startServer(t, hoRoot, db, nil, func(c *datasync.ServerConfig) {
		c.Quota = bytesize.Size(quota)
		c.Disk = retention.Watermarks{High: 100}
	})
	if err := srv.Housekeep(context.Background(), time.Date(2026, 11, 23, 9, 0, 0, 0, time.Local)); err != nil {
		t.Fatal(err)
	}
	if n := srv.Stats().GatewayDays.Load(); n != 1 {
		t.Errorf("%d gateway days removed, want 1", n)
	}
	for _, dir := range []string{"sync", "attachments"} {
		if _, err := os.Stat(filepath.Join(hoRoot, dir, gwA, day1)); !os.IsNotExist(err) {
			t.Errorf("%s/%s/%s kept: %v", dir, gwA, day1, err)
		}
		if _, err := os.Stat(filepath.Join(hoRoot, dir, gwA, day2)); err != nil {
			t.Errorf("%s/%s/%s: %v", dir, gwA, day2, err)
		}
	}
	for _, tb := range []string{"A", "U", "Q", "F"} {
		if n := rows(tb+day1, gwA); n != 0 {
			t.Errorf("%s%s keeps %d rows of gateway A", tb, day1, n)
		}
	}
	if n := rows("A"+day2, gwA); n != a2 {
		t.Errorf("A%s: gateway A has %d rows, had %d", day2, n, a2)
	}
	// The rollups go with the day's files, rollup's own code removing them.
	tables, err := mariadb.Tables(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	rollups := 0
	for _, tb := range tables {
		if day, ok := rollup.TableDay(tb); !ok || day != day1 {
			continue
		}
		rollups++
		if n := rows(tb, gwA); n != 0 {
			t.Errorf("%s keeps %d rows of gateway A", tb, n)
		}
		if rows(tb, gwB) == 0 {
			t.Errorf("%s has no rows of gateway B left", tb)
		}
	}
	if rollups == 0 {
		t.Errorf("no rollup table of %s", day1)
	}
	checkHeadOffice(t, db, hoRoot, rootB, gwB, attB)
	t.Logf("gateway A stored %d bytes, quota %d at -disk-high 100: its day %s went (%d bytes), gateway B untouched", usedA, quota, day1, dayA)
}

// twoGateways writes the branches of gateways A and B (their seeds and
// rows per window), ships both to a plaintext head office at hoRoot, loads
// them and stops the server; it returns B's root and attachments.
func twoGateways(t *testing.T, hoRoot string, db *sql.DB, seedA uint64, rowsA int, seedB uint64, rowsB int) (string, map[string][]byte) {
	t.Helper()
	rootA, rootB := t.TempDir(), t.TempDir()
	branch(t, rootA, gwA, seedA, rowsA, logfile.LZ4)
	attB := branch(t, rootB, gwB, seedB, rowsB, logfile.LZ4)
	srv := startServer(t, hoRoot, db, nil, nil)
	push(t, clientConfig(t, rootA, gwA, srv.URL, nil))
	push(t, clientConfig(t, rootB, gwB, srv.URL, nil))
	loadAll(t, srv)
	srv.Stop()
	return rootB, attB
}

func dirBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyFile(t testing.TB, from, to string) { writeFile(t, to, readFile(t, from)) }
