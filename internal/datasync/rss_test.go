package datasync_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/hostile"
	"github.com/acstore/acstore/internal/syncbuf"
	"github.com/acstore/acstore/internal/testdb"
)

// serverRSS is the most memory the server may reach in TestServerRSS,
// whatever is thrown at it.
const serverRSS = 128 << 20

const (
	gwC     = "C0FFEE00"
	secretC = "secret-of-C0FFEE00-0123456789"
)

// freePort returns a loopback address nobody listens on.
func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServerRSS runs the real `datasync serve` with a database and throws
// at it every hostile file of issue 16, three times each, and 300 uploads
// stalled one byte short of a 4 MiB frame from two hostile gateways, while
// a good branch ships three windows through the real client. The good
// branch's rows all arrive, the hostile answers are exact, and the
// server's peak RSS (VmHWM) stays under serverRSS.
func TestServerRSS(t *testing.T) {
	db, dsn := testdb.New(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "datasync")
	if out, err := exec.Command("go", "build", "-o", bin, "../../datasync").CombinedOutput(); err != nil {
		t.Fatalf("build datasync: %v\n%s", err, out)
	}
	gwFile := filepath.Join(dir, "gateways")
	os.WriteFile(gwFile, []byte(gwA+" "+secretA+"\n"+gwB+" "+secretB+"\n"+gwC+" "+secretC+"\n"), 0o600)
	hoRoot := filepath.Join(dir, "ho")
	addr, metrics := freePort(t), freePort(t)
	var logs syncbuf.Buffer
	cmd := exec.Command(bin, "serve", "-data", hoRoot, "-dsn", dsn, "-gateways", gwFile, "-insecure", "-listen", addr,
		"-metrics-addr", metrics, "-max-uploads", "16", "-max-gateway-uploads", "4", "-idle-timeout", "30s",
		"-load-interval", "1s", "-window-past", "87600h")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	}()
	url := "http://" + addr
	client := &http.Client{Timeout: time.Minute}
	waitListening(t, addr)

	now := time.Now().Truncate(5 * time.Minute)
	win := func(i int) string { return now.Add(-time.Duration(i) * 5 * time.Minute).Format(datasync.WindowLayout) }

	// Windows out of range: nothing stored, no day table.
	for _, w := range []string{"99991231_2355", "00000101_0000"} {
		before := listing(t, hoRoot)
		name := w + "_" + gwB + "_A.dat"
		content := lz4Rows("1\tx\n")
		a := putFile(t, client, url, gwB, secretB, name, content)
		if a.status != 422 || !a.body.Quarantine || !strings.Contains(a.body.Error, "outside the range") {
			t.Errorf("window %s: %d %s, want 422", w, a.status, a.raw)
		}
		sameListing(t, "window "+w, before, listing(t, hoRoot))
	}

	// The hostile files, three times each, from gateway B.
	claim := hostile.ZeroEntry(100)
	claim.Size = 1 << 30
	var endless bytes.Buffer
	if err := hostile.LZ4Endless(&endless, 520<<20); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name    string
		table   string
		content []byte
		status  int
		text    string
	}{
		{"xz claiming a 1.5 GiB dictionary", "A", hostile.XZDict([]byte("1\tx\n"), 37), 422, "xz dictionary of 1610612736 bytes asked for"},
		{"xz claiming a 4 GiB dictionary", "S", hostile.XZDict([]byte("1\tx\n"), 40), 422, "xz dictionary of 4294967295 bytes asked for"},
		{"lz4 of 2 MB expanding to 520 MiB without a newline", "U", endless.Bytes(), 200, ""},
		{"lz4 of 1 KB claiming 4 GiB", "P", hostile.LZ4Claim([]byte("1\tx\n"), 4<<30), 200, ""},
		{"bundle of 152 bytes claiming a 1 GiB entry", "X", hostile.Bundle(claim), 422, "over the 268435456 byte limit"},
		{"bundle of 1.6 MB expanding to 400 MiB", "X", hostile.Bundle(hostile.ZeroEntry(400 << 20)), 422, "over the 268435456 byte limit"},
	}
	for round := range 3 {
		for i, f := range files {
			name := win(100+10*round+i) + "_" + gwB + "_" + f.table + ".dat"
			a := putFile(t, client, url, gwB, secretB, name, f.content)
			if a.status != f.status || !strings.Contains(a.body.Error, f.text) {
				t.Errorf("%s (%d bytes): %d %s, want %d %q", f.name, len(f.content), a.status, a.raw, f.status, f.text)
			}
			if a.status == 200 {
				send(t, client, url, "POST", "/v1/windows/"+win(100+10*round+i), gwB, secretB, nil,
					[]byte(`{"files":[{"name":"`+name+`","size":`+strconv.Itoa(len(f.content))+`,"sha256":"`+shaHex(f.content)+`"}]}`))
			}
		}
	}

	// 300 uploads stalled one byte short of a frame, from gateways B and C.
	var mu sync.Mutex
	answers := map[string]int{}
	var stalled []net.Conn
	var wg sync.WaitGroup
	for i := range 300 {
		gw, secret := gwB, secretB
		if i%2 == 1 {
			gw, secret = gwC, secretC
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, conn := stall(t, addr, gw, secret, win(200+i)+"_"+gw+"_A.dat")
			mu.Lock()
			defer mu.Unlock()
			answers[got]++
			if conn != nil {
				stalled = append(stalled, conn)
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range stalled {
			c.Close()
		}
	}()
	t.Logf("300 stalled uploads: %v", answers)
	if answers["stalled"] != 8 || answers["503"] != 292 {
		t.Errorf("stalled uploads: %v, want 8 stalled (4 per gateway) and 292 answered 503", answers)
	}

	// Meanwhile a good branch ships through the real client.
	root := t.TempDir()
	for i := range 3 {
		writeWindow(t, root, gwA, now.Add(-time.Duration(6-i)*5*time.Minute), uint64(i+1), 200)
	}
	cfg := clientConfig(t, root, gwA, url, nil)
	c := push(t, cfg)
	if n := c.Stats().Files.Load(); n != 3*11 {
		t.Errorf("good branch sent %d files, want 33", n)
	}
	waitLoaded(t, hoRoot, gwA, c.Watermark())

	peak, err := hostile.PeakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server peak RSS %d MiB (bound %d MiB)", peak>>20, serverRSS>>20)
	if peak > serverRSS {
		t.Errorf("server peak RSS %d MiB, over the %d MiB bound", peak>>20, serverRSS>>20)
	}
	var far int
	db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND (TABLE_NAME LIKE '%9999%' OR TABLE_NAME LIKE '%0000%')").Scan(&far)
	if far != 0 {
		t.Errorf("%d day tables of year 9999 or 0000 created", far)
	}
	m := scrape(t, "http://"+metrics+"/metrics")
	if got := m["acstore_datasync_serve_busy_total"]; got != 292 {
		t.Errorf("busy answers counted %v, want 292", got)
	}
	if got := m["acstore_datasync_serve_bad_content_total"]; got != 12 {
		t.Errorf("bad content counted %v, want 12 (4 files, 3 times)", got)
	}
}

// stall sends the headers of an upload and, unless the server answers at
// once, a frame that claims 4 MiB and holds one byte less. It returns
// "stalled" and the open connection, or the status the server answered.
func stall(t testing.TB, addr, gw, secret, name string) (string, net.Conn) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return "dial: " + err.Error(), nil
	}
	size := datasync.MaxFrame
	hdr := "PUT /v1/files/" + name + " HTTP/1.1\r\nHost: x\r\n" +
		signedHeaders(t, "PUT", "/v1/files/"+name, gw, secret, upload(name, size, shaHex([]byte("x")), 0)) +
		"Content-Length: " + strconv.Itoa(size+8) + "\r\n\r\n"
	conn.Write([]byte(hdr))
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err == nil {
		conn.Close()
		return strings.Fields(line)[1], nil
	}
	conn.SetReadDeadline(time.Time{})
	body := frame(make([]byte, size), false)
	conn.Write(body[:len(body)-1])
	return "stalled", conn
}

func waitListening(t testing.TB, addr string) {
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("server at %s did not start", addr)
}

// waitLoaded waits until the server's state says the gateway is loaded up
// to window.
func waitLoaded(t testing.TB, root, gw, window string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		if st, err := datasync.ReadServerState(root); err == nil && st[gw] != nil && st[gw].LastLoaded >= window {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, _ := datasync.ReadServerState(root)
	t.Fatalf("gateway %s not loaded up to %s: %+v", gw, window, st[gw])
}

// scrape reads the Prometheus text of url into name -> value (labels
// dropped, values of the same name summed).
func scrape(t testing.TB, url string) map[string]float64 {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	m := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		name, _, _ := strings.Cut(f[0], "{")
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		m[name] += v
	}
	return m
}
