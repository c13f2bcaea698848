package datasync_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testpki"
	"github.com/acstore/acstore/internal/xbundle"
)

const (
	gwA     = "5F86F7A5"
	gwB     = "0BADCAFE"
	secretA = "secret-of-5F86F7A5-0123456789"
	secretB = "secret-of-0BADCAFE-0123456789"
)

// t0 is in the past, so its windows are over.
var t0 = time.Date(2026, 11, 21, 13, 0, 0, 0, time.Local)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("DATASYNC_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// pki holds a CA, a server certificate for 127.0.0.1 and one client
// certificate per gateway, as PEM files in dir.
type pki struct {
	dir                  string
	ca, cert, key        string
	clientCert, clientKy map[string]string
}

func newPKI(t testing.TB, gws ...string) *pki {
	t.Helper()
	dir := t.TempDir()
	tp, err := testpki.New(dir, gws...)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{dir: dir, ca: tp.CA, cert: tp.Cert, key: tp.Key, clientCert: tp.ClientCert, clientKy: tp.ClientKey}
}

// testServer is a datasync server on a loopback listener.
type testServer struct {
	*datasync.Server
	URL    string
	Addr   string
	root   string
	cancel context.CancelFunc
	done   chan error
}

func gateways() map[string]string { return map[string]string{gwA: secretA, gwB: secretB} }

// startServer runs a server with real TLS (or plaintext when p is nil).
func startServer(t testing.TB, root string, db *sql.DB, p *pki, mod func(*datasync.ServerConfig)) *testServer {
	t.Helper()
	cfg := datasync.ServerConfig{Root: root, Gateways: gateways(), IdleTimeout: 5 * time.Second,
		LoadInterval: time.Hour, Logger: testLogger(t),
		// The test windows are fixed dates: accept them whenever the tests
		// run. The window range has its own test.
		WindowPast: 20 * 365 * 24 * time.Hour}
	if p == nil {
		cfg.TLS.Insecure = true
	} else {
		cfg.TLS.Cert, cfg.TLS.Key = p.cert, p.key
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := datasync.NewServer(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: srv, Addr: ln.Addr().String(), root: root, cancel: cancel, done: make(chan error, 1)}
	ts.URL = "https://" + ts.Addr
	if p == nil {
		ts.URL = "http://" + ts.Addr
	}
	go func() { ts.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(ts.Stop)
	return ts
}

func (ts *testServer) Stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	<-ts.done
	ts.cancel = nil
	ts.Close()
}

func clientConfig(t testing.TB, root, gw, url string, p *pki) datasync.ClientConfig {
	cfg := datasync.ClientConfig{Root: root, Server: url, Gateway: gw, Secret: gateways()[gw],
		Retries: 20, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Idle: 5 * time.Second, Recheck: time.Hour, Logger: testLogger(t)}
	if p == nil {
		cfg.TLS.Insecure = true
	} else {
		cfg.TLS.CA = p.ca
	}
	return cfg
}

func push(t testing.TB, cfg datasync.ClientConfig) *datasync.Client {
	t.Helper()
	c, err := datasync.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatalf("push %s: %v", cfg.Gateway, err)
	}
	return c
}

// branch writes a branch's data root: rows of every table over several
// windows (one of them on the day before), config tables and an X bundle
// per window. It returns the attachments by sha256 hex.
func branch(t testing.TB, root, gw string, seed uint64, rows int, codec logfile.Codec) map[string][]byte {
	t.Helper()
	windows := []time.Time{t0.Add(-13*time.Hour - 5*time.Minute), t0, t0.Add(5 * time.Minute), t0.Add(10 * time.Minute)}
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Codec: codec, HighPerformance: true})
	if err != nil {
		t.Fatal(err)
	}
	g := rowgen.New(seed, true)
	for _, w := range windows {
		writeRows(t, sp, w, g, rows)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	att := make(map[string][]byte)
	for i, w := range windows {
		n := logfile.Name{Window: w, Gateway: gw, Table: schema.Attachments}
		f, err := os.Create(n.Path(root))
		if err != nil {
			t.Fatal(err)
		}
		bw, _ := xbundle.NewWriter(f)
		for j := 0; j < 3; j++ {
			content := []byte(strings.Repeat(fmt.Sprintf("attachment %s %d %d\n", gw, i, j), 100*(j+1)))
			sum, err := bw.Add(fmt.Sprintf("file%d.txt", j), "text/plain", content)
			if err != nil {
				t.Fatal(err)
			}
			att[hex.EncodeToString(sum[:])] = content
		}
		bw.Close()
		f.Close()
	}
	writeConfig(t, root, gw, 0)
	return att
}

// writeConfig writes the branch's config tables; version changes them.
func writeConfig(t testing.TB, root, gw string, version int) {
	dir := filepath.Join(root, "config")
	os.MkdirAll(dir, 0o755)
	files := map[string]string{
		"users.tsv":  fmt.Sprintf("10.0.0.0/24\talice-%s-%d\tsales\n10.0.1.7\tbob\\tthe\\\\builder\tops/net\n", gw, version),
		"groups.tsv": "sales\t\nops\t\nops/net\tops\n",
		"apps.tsv":   fmt.Sprintf("web\thttp\tport\ttcp/80\ndns\tinfra\tport\tudp/53\nmail-%d\tmail\thost\t*.mail.example.com\n", version),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// digest is a row count and an order-independent checksum of rows.
type digest struct {
	rows int
	sum  uint64
}

func (d *digest) add(fields [][]byte, nulls []bool) {
	h := sha256.New()
	for i, f := range fields {
		if nulls[i] {
			h.Write([]byte{0xff, 0})
		} else {
			h.Write([]byte{0})
			h.Write(f)
		}
		h.Write([]byte{0xfe})
	}
	d.rows++
	d.sum += binary.LittleEndian.Uint64(h.Sum(nil))
}

// fileDigests reads every sync_file of a gateway: "A20261121" -> digest.
func fileDigests(t testing.TB, root, gw string) map[string]*digest {
	t.Helper()
	out := make(map[string]*digest)
	err := logfile.WalkSync(root, func(path string, n logfile.Name) error {
		if n.Gateway != gw || n.Table == schema.Attachments {
			return nil
		}
		rs, err := logfile.OpenRows(path, logfile.LZ4)
		if err != nil {
			return err
		}
		defer rs.Close()
		rows := logfile.NewRows(rs)
		d := out[n.DayTable()]
		if d == nil {
			d = &digest{}
			out[n.DayTable()] = d
		}
		for rows.Next() {
			fs, err := logfile.SplitRow(rows.Row())
			if err != nil {
				return err
			}
			vals, nulls := make([][]byte, len(fs)), make([]bool, len(fs))
			for i, f := range fs {
				vals[i], nulls[i] = f.Value, f.Null
			}
			d.add(vals, nulls)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tableDigest reads a table's rows of one gateway, in the file's column
// order, as the bytes the database holds.
func tableDigest(t testing.TB, db *sql.DB, table string, cols []string, gw string) *digest {
	t.Helper()
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "CAST(`" + c + "` AS BINARY)"
	}
	rows, err := db.Query("SELECT "+strings.Join(sel, ", ")+" FROM "+mariadb.Quote(table)+" WHERE gw = ?", gw)
	if err != nil {
		t.Fatalf("%s: %v", table, err)
	}
	defer rows.Close()
	d := &digest{}
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		vals, nulls := make([][]byte, len(cols)), make([]bool, len(cols))
		for i, v := range raw {
			vals[i], nulls[i] = v, v == nil
		}
		d.add(vals, nulls)
	}
	return d
}

// checkRows asserts that the database holds exactly the rows of the
// branch's sync_files, per day table: each once, none missing.
func checkRows(t testing.TB, db *sql.DB, branchRoot, gw string) {
	t.Helper()
	want := fileDigests(t, branchRoot, gw)
	if len(want) == 0 {
		t.Fatal("branch has no rows")
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		tb, _, err := schema.ParseDayTable(name, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		if got := tableDigest(t, db, name, tb.FileColumns(), gw); *got != *want[name] {
			t.Errorf("%s gw %s: table has %d rows (sum %x), sync_files %d rows (sum %x)", name, gw, got.rows, got.sum, want[name].rows, want[name].sum)
		}
	}
}

// checkHeadOffice asserts that the head-office database holds exactly the
// rows of the branch's sync_files, per table and day, and its config
// tables, and that the attachments are unpacked byte-identical.
func checkHeadOffice(t testing.TB, db *sql.DB, hoRoot, branchRoot, gw string, att map[string][]byte) {
	t.Helper()
	checkRows(t, db, branchRoot, gw)
	for _, tb := range schema.ConfigTables() {
		want := configDigest(t, filepath.Join(branchRoot, "config", tb.Name+".tsv"))
		got := tableDigest(t, db, tb.Name, tb.FileColumns(), gw)
		if *got != *want {
			t.Errorf("config %s gw %s: table has %d rows, file %d (or different bytes)", tb.Name, gw, got.rows, want.rows)
		}
	}
	for sum, content := range att {
		found := false
		days, _ := filepath.Glob(filepath.Join(hoRoot, "attachments", gw, "*", sum))
		for _, p := range days {
			data, err := os.ReadFile(p)
			if err == nil && string(data) == string(content) {
				found = true
			}
		}
		if !found {
			t.Errorf("attachment %s of %s missing or different at head office", sum, gw)
		}
	}
}

func configDigest(t testing.TB, path string) *digest {
	d := &digest{}
	rs, err := logfile.OpenRows(path, logfile.Plain)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	rows := logfile.NewRows(rs)
	for rows.Next() {
		fs, err := logfile.SplitRow(rows.Row())
		if err != nil {
			t.Fatal(err)
		}
		vals, nulls := make([][]byte, len(fs)), make([]bool, len(fs))
		for i, f := range fs {
			vals[i], nulls[i] = f.Value, f.Null
		}
		d.add(vals, nulls)
	}
	return d
}

// loadAll runs the server's load and fails the test on error.
func loadAll(t testing.TB, s *testServer) {
	t.Helper()
	if err := s.LoadOnce(context.Background()); err != nil {
		t.Fatalf("load: %v", err)
	}
}

// writeInto writes rows of every log table at w on sp, flushing now and
// then.
func writeInto(t testing.TB, sp *logfile.Spool, w time.Time, seed uint64, rows int) {
	t.Helper()
	writeRows(t, sp, w, rowgen.New(seed, true), rows)
}

// writeRows writes rows of every log table from g at w on sp, flushing
// now and then.
func writeRows(t testing.TB, sp *logfile.Spool, w time.Time, g *rowgen.Gen, rows int) {
	t.Helper()
	for i := 0; i < rows; i++ {
		for _, tb := range schema.LogTables() {
			if err := g.Row(sp, tb, w.Add(time.Duration(i)*time.Millisecond*7)); err != nil {
				t.Fatal(err)
			}
		}
		if i%(rows/3+1) == 0 {
			if err := sp.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
