package datasync_test

import (
	"context"

	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/testdb"
	"github.com/acstore/acstore/internal/testenv"
)

// cutProxy forwards TCP connections to target and cuts each of the first
// `cuts` connections after a random number of client-to-server bytes.
type cutProxy struct {
	ln     net.Listener
	target string
	rng    *rand.Rand
	mu     sync.Mutex
	left   int   // cuts still to make
	maxCut int64 // a cut comes within this many bytes
	cuts   atomic.Int64
}

func newCutProxy(t testing.TB, target string, cuts int, maxCut int64) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, rng: rand.New(rand.NewPCG(7, 11)), left: cuts, maxCut: maxCut}
	go p.serve()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		budget := int64(-1)
		if p.left > 0 {
			p.left--
			budget = 1 + p.rng.Int64N(p.maxCut)
		}
		p.mu.Unlock()
		go p.handle(c, budget)
	}
}

func (p *cutProxy) handle(c net.Conn, budget int64) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	cut := func() {
		// RST rather than FIN: a cut link, not a polite close.
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
		s.Close()
	}
	go func() { io.Copy(c, s); cut() }()
	if budget < 0 {
		io.Copy(s, c)
	} else {
		if _, err := io.CopyN(s, c, budget); err == nil {
			p.cuts.Add(1)
		}
	}
	cut()
}

// TestCutConnection cuts the connection at random byte offsets many times
// in a row, over TLS; the pushes resume where the server is, and the result
// equals a transfer without faults: nothing lost, nothing doubled.
func TestCutConnection(t *testing.T) {
	db, _ := testdb.New(t)
	p := newPKI(t, gwA)
	hoRoot, root := t.TempDir(), t.TempDir()
	srv := startServer(t, hoRoot, db, p, nil)
	att := branch(t, root, gwA, 3, 1500, logfile.LZ4)
	proxy := newCutProxy(t, srv.Addr, 60, 100<<10)
	cfg := clientConfig(t, root, gwA, "https://"+proxy.ln.Addr().String(), p)
	cfg.Retries = 200
	cfg.FrameSize = 16 << 10 // so that a cut connection has sent whole frames
	c := push(t, cfg)
	loadAll(t, srv)
	checkHeadOffice(t, db, hoRoot, root, gwA, att)
	if n := proxy.cuts.Load(); n < 40 {
		t.Errorf("%d cuts made, want at least 40 of the 60 connections cut", n)
	}
	if srv.Stats().Resumed.Load() == 0 {
		t.Error("no upload resumed from an offset")
	}
	t.Logf("cuts %d, retries %d, resumed %d, wire bytes %d for %d file bytes", proxy.cuts.Load(), c.Stats().Retries.Load(),
		srv.Stats().Resumed.Load(), c.Stats().WireBytes.Load(), c.Stats().Bytes.Load())
	// Resuming means bytes are not sent again from 0 at each cut.
	if w, b := c.Stats().WireBytes.Load(), c.Stats().Bytes.Load(); w > 2*b {
		t.Errorf("sent %d wire bytes for %d bytes of files: not resuming", w, b)
	}
}

// TestCorruptState pushes, then garbles the client's state file and adds a
// window: the state is set aside and rebuilt from the server, only the new
// window is sent, and head office ends with exactly the branch's rows.
func TestCorruptState(t *testing.T) {
	db, _ := testdb.New(t)
	hoRoot, root := t.TempDir(), t.TempDir()
	srv := startServer(t, hoRoot, db, nil, nil)
	att := branch(t, root, gwA, 4, 50, logfile.LZ4)
	cfg := clientConfig(t, root, gwA, srv.URL, nil)
	push(t, cfg)
	state := filepath.Join(root, "state", "datasync", "client.json")
	for _, garbage := range []string{"{\"version\": 1, \"watermark\": \"zz", "\x00\x00\x00", ""} {
		if err := os.WriteFile(state, []byte(garbage), 0o644); err != nil {
			t.Fatal(err)
		}
		c := push(t, cfg)
		if n := c.Stats().Files.Load() + c.Stats().Configs.Load(); n != 0 {
			t.Errorf("state %q: %d files sent again after rebuilding the state", garbage, n)
		}
		if c.Watermark() != "20261121_1310" {
			t.Errorf("state %q: rebuilt watermark %q", garbage, c.Watermark())
		}
	}
	aside, _ := filepath.Glob(state + ".corrupt-*")
	if len(aside) != 3 {
		t.Errorf("%d corrupt state files set aside, want 3", len(aside))
	}
	// A new window after the rebuild goes as usual.
	writeWindow(t, root, gwA, t0.Add(15*time.Minute), 5, 30)
	c := push(t, cfg)
	if n := c.Stats().Files.Load(); n != 11 {
		t.Errorf("%d files sent for the new window, want 11", n)
	}
	loadAll(t, srv)
	checkHeadOffice(t, db, hoRoot, root, gwA, att)
	var sb strings.Builder
	if err := datasync.PrintStatus(&sb, root, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "last window shipped 20261121_1315, 0 file(s) to ship") {
		t.Errorf("status:\n%s", sb.String())
	}
}

// writeWindow adds rows of every table in one window.
func writeWindow(t testing.TB, root, gw string, w time.Time, seed uint64, rows int) {
	t.Helper()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, HighPerformance: true})
	if err != nil {
		t.Fatal(err)
	}
	writeInto(t, sp, w, seed, rows)
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDiskFull fills the server's disk (a 1 MiB tmpfs) in the middle of a
// push: the server answers 507 and keeps serving, the push fails clearly;
// once the disk grows, a new push completes and nothing is lost or doubled.
func TestDiskFull(t *testing.T) {
	db, _ := testdb.New(t)
	hoRoot, root := t.TempDir(), t.TempDir()
	testenv.Tmpfs(t, hoRoot, "1m")
	srv := startServer(t, hoRoot, db, nil, nil)
	att := branch(t, root, gwA, 6, 800, logfile.LZ4)
	cfg := clientConfig(t, root, gwA, srv.URL, nil)
	cfg.Retries = 3
	c, err := datasync.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = c.RunOnce(context.Background())
	c.Close()
	if err == nil || !strings.Contains(err.Error(), "disk is full") {
		t.Fatalf("push onto a full disk: err %v, want a 507 disk-full error", err)
	}
	if srv.Stats().DiskFull.Load() == 0 {
		t.Error("server counted no disk-full write")
	}
	if err := exec.Command("mount", "-o", "remount,size=256m", hoRoot).Run(); err != nil {
		t.Fatalf("grow the tmpfs: %v", err)
	}
	push(t, clientConfig(t, root, gwA, srv.URL, nil))
	loadAll(t, srv)
	checkHeadOffice(t, db, hoRoot, root, gwA, att)
	var st syscall.Statfs_t
	syscall.Statfs(hoRoot, &st)
	t.Logf("disk-full writes %d; head office tmpfs now %d KiB used", srv.Stats().DiskFull.Load(), (st.Blocks-st.Bfree)*uint64(st.Bsize)/1024)
}

// TestKill9 kills server and client processes with SIGKILL at random
// moments while a branch ships a backlog; after restarting both and a last
// push, head office holds exactly the branch's rows.
func TestKill9(t *testing.T) {
	switch os.Getenv("DATASYNC_CHILD") {
	case "server":
		killServerChild()
		return
	case "client":
		killClientChild()
		return
	}
	db, dsn := testdb.New(t)
	hoRoot, root := t.TempDir(), t.TempDir()
	att := branch(t, root, gwA, 8, 1200, logfile.LZ4)
	for i := 0; i < 6; i++ {
		writeWindow(t, root, gwA, t0.Add(time.Duration(15+5*i)*time.Minute), uint64(20+i), 1200)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	child := func(role string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
		cmd.Env = append(os.Environ(), "DATASYNC_CHILD="+role, "DATASYNC_HO="+hoRoot, "DATASYNC_BRANCH="+root,
			"DATASYNC_ADDR="+addr, "DATASYNC_DSN="+dsn)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rng := rand.New(rand.NewPCG(3, 4))
	total := len(syncFiles(t, root, gwA))
	server := child("server")
	client := child("client")
	type kill struct {
		role               string
		published, partial int // files at head office, uploads growing in incoming/
	}
	var kills []kill
	// A quarter of the files is left to the last push, which must find
	// work to do: an iteration publishes several files before its kill.
	lastPush := total / 4
	for i := 0; i < 16; i++ {
		// Once a file was published since the last restart, at a random
		// moment while an upload is streaming.
		before := len(syncFiles(t, hoRoot, gwA))
		if before >= total-lastPush {
			break
		}
		waitUntil(t, time.Minute, "a file to be published", func() bool { return len(syncFiles(t, hoRoot, gwA)) > before })
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
		k := kill{role: "server"}
		for deadline := time.Now().Add(2 * time.Second); k.partial == 0 && time.Now().Before(deadline); {
			k.partial = growingParts(hoRoot, gwA)
		}
		k.published = len(syncFiles(t, hoRoot, gwA))
		victim := &server
		if rng.IntN(2) == 0 {
			victim, k.role = &client, "client"
		}
		(*victim).Process.Kill()
		(*victim).Wait()
		kills = append(kills, k)
		*victim = child(k.role)
	}
	client.Process.Kill()
	client.Wait()
	server.Process.Kill()
	server.Wait()
	hits := 0
	for i, k := range kills {
		t.Logf("kill %2d (%s): %3d of %d files published, %d uploads streaming", i+1, k.role, k.published, total, k.partial)
		if k.published > 0 && k.published < total && k.partial > 0 {
			hits++
		}
	}
	if len(kills) < 10 || hits*3 < len(kills)*2 {
		t.Errorf("%d kills, %d of them mid-upload with files done and pending: want at least 10, two thirds", len(kills), hits)
	}
	left := total - len(syncFiles(t, hoRoot, gwA))
	// Heal: a server in this process and a last push.
	srv := startServer(t, hoRoot, db, nil, func(c *datasync.ServerConfig) { c.Listen = addr })
	c := push(t, clientConfig(t, root, gwA, srv.URL, nil))
	if left == 0 || c.Stats().Files.Load() == 0 {
		t.Errorf("the last push had no work left (%d files unpublished, %d sent)", left, c.Stats().Files.Load())
	}
	loadAll(t, srv)
	checkHeadOffice(t, db, hoRoot, root, gwA, att)
}

// syncFiles lists a gateway's published sync_files under root.
func syncFiles(t *testing.T, root, gw string) []string {
	paths, err := filepath.Glob(filepath.Join(root, "sync", gw, "*", "*"+logfile.SyncExt))
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// growingParts counts the partial uploads in incoming/ that grow over a
// few milliseconds: uploads streaming now.
func growingParts(hoRoot, gw string) int {
	sizes := func() map[string]int64 {
		m := map[string]int64{}
		paths, _ := filepath.Glob(filepath.Join(hoRoot, "incoming", gw, "*.part"))
		for _, p := range paths {
			if fi, err := os.Stat(p); err == nil {
				m[p] = fi.Size()
			}
		}
		return m
	}
	a := sizes()
	time.Sleep(5 * time.Millisecond)
	n := 0
	for p, size := range sizes() {
		if old, ok := a[p]; !ok || size > old {
			n++
		}
	}
	return n
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%v passed waiting for %s", d, what)
		}
	}
}

func killServerChild() {
	ctx := context.Background()
	db, err := mariadb.Open(ctx, os.Getenv("DATASYNC_DSN"))
	if err != nil {
		panic(err)
	}
	srv, err := datasync.NewServer(datasync.ServerConfig{Root: os.Getenv("DATASYNC_HO"), Gateways: gateways(),
		TLS: datasync.TLSFiles{Insecure: true}, IdleTimeout: 5 * time.Second, LoadInterval: 200 * time.Millisecond}, db)
	if err != nil {
		panic(err)
	}
	var ln net.Listener
	for i := 0; i < 100; i++ { // the killed server's port may linger a moment
		if ln, err = net.Listen("tcp", os.Getenv("DATASYNC_ADDR")); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		panic(err)
	}
	srv.Serve(ctx, ln)
	os.Exit(0)
}

func killClientChild() {
	cfg := datasync.ClientConfig{Root: os.Getenv("DATASYNC_BRANCH"), Server: "http://" + os.Getenv("DATASYNC_ADDR"),
		Gateway: gwA, Secret: secretA, TLS: datasync.TLSFiles{Insecure: true}, Interval: 50 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Retries: 1000, BWLimit: 4 << 20}
	c, err := datasync.NewClient(cfg)
	if err != nil {
		panic(err)
	}
	c.Run(context.Background())
	os.Exit(0)
}
