package datasync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/hostile"
	"github.com/acstore/acstore/internal/syncbuf"
	"github.com/acstore/acstore/internal/testdb"
)

// listing is every file and directory under root but the server's state,
// with the sizes of files: "nothing written" is the same listing before
// and after.
func listing(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if rel == "state" && d.IsDir() {
			return filepath.SkipDir
		}
		if fi, err := d.Info(); err == nil && !d.IsDir() {
			rel += " " + strconv.FormatInt(fi.Size(), 10)
		}
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return out
}

// sameListing fails the test if the tree changed.
func sameListing(t testing.TB, what string, before, after []string) {
	t.Helper()
	if !slices.Equal(before, after) {
		t.Errorf("%s: the server wrote something:\nbefore %q\nafter  %q", what, before, after)
	}
}

// answer is what the server said to one request.
type answer struct {
	status int
	body   datasync.ErrorBody
	raw    string
	header http.Header
}

// send sends one signed request; with content, it is an upload of it as
// frames of at most 1 MiB.
func send(t testing.TB, client *http.Client, base, method, path, gw, secret string, hdr map[string]string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if method == http.MethodPost {
		req.Header.Set(datasync.HeaderSha256, shaHex(body))
	}
	datasync.Sign(req, gw, secret)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(data), header: resp.Header}
	json.Unmarshal(data, &a.body)
	return a
}

// frames encodes content as frames of at most 1 MiB.
func frames(content []byte) []byte {
	var out []byte
	for len(content) > 0 {
		n := min(len(content), 1<<20)
		out = append(out, frame(content[:n], false)...)
		content = content[n:]
	}
	return out
}

// putFile uploads content as the file name.
func putFile(t testing.TB, client *http.Client, base, gw, secret, name string, content []byte) answer {
	t.Helper()
	return send(t, client, base, http.MethodPut, "/v1/files/"+name, gw, secret, upload(name, len(content), shaHex(content), 0), frames(content))
}

// lz4Rows is rows as a one-frame lz4 sync_file.
func lz4Rows(rows string) []byte { return hostile.LZ4Claim([]byte(rows), 0) }

// TestWindowRange: files and commits of windows outside the accepted range
// (year 0000, year 9999, before the gateway's first window minus
// -window-past, past now plus -window-future) get 422 with quarantine set;
// nothing is written and no day table is created.
func TestWindowRange(t *testing.T) {
	db, _ := testdb.New(t)
	hoRoot := t.TempDir()
	srv := startServer(t, hoRoot, db, nil, func(c *datasync.ServerConfig) {
		c.WindowPast, c.WindowFuture = 48*time.Hour, 10*time.Minute
	})
	client := &http.Client{}
	now := time.Now().Truncate(5 * time.Minute)
	win := func(w time.Time) string { return w.Format(datasync.WindowLayout) }
	content := lz4Rows("1\t2026-11-21 13:00:00.000000\trow\n")
	// The gateway's first window: a day ago. From then, 48 hours back.
	first := now.Add(-24 * time.Hour)
	if a := putFile(t, client, srv.URL, gwA, secretA, win(first)+"_"+gwA+"_A.dat", content); a.status != 200 {
		t.Fatalf("first window: %d %s", a.status, a.raw)
	}
	cases := []struct {
		name string
		w    string
	}{
		{"year 9999", "99991231_2355"},
		{"year 0000", "00000101_0000"},
		{"before the first window minus -window-past", win(first.Add(-48*time.Hour - 5*time.Minute))},
		{"past now plus -window-future", win(now.Add(15 * time.Minute))},
	}
	for _, c := range cases {
		name := c.w + "_" + gwA + "_A.dat"
		before := listing(t, hoRoot)
		for _, a := range []answer{
			putFile(t, client, srv.URL, gwA, secretA, name, content),
			send(t, client, srv.URL, "GET", "/v1/files/"+name+"?size="+strconv.Itoa(len(content))+"&sha256="+shaHex(content), gwA, secretA, nil, nil),
			send(t, client, srv.URL, "POST", "/v1/windows/"+c.w, gwA, secretA, nil, []byte(`{"files":[]}`)),
		} {
			if a.status != 422 || !a.body.Quarantine || !strings.Contains(a.body.Error, "outside the range accepted for gateway "+gwA) {
				t.Errorf("%s: %d %s, want 422, quarantine and the range", c.name, a.status, a.raw)
			}
		}
		sameListing(t, c.name, before, listing(t, hoRoot))
	}
	// Within the range: the oldest accepted and the near future.
	for _, w := range []time.Time{first.Add(-48 * time.Hour), now.Add(5 * time.Minute)} {
		if a := putFile(t, client, srv.URL, gwA, secretA, win(w)+"_"+gwA+"_A.dat", content); a.status != 200 {
			t.Errorf("window %s: %d %s, want 200", win(w), a.status, a.raw)
		}
	}
	if err := srv.LoadOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var tables []string
	rows, err := db.Query("SHOW TABLES LIKE 'A%'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, n := range tables {
		if strings.HasPrefix(n, "A9999") || strings.HasPrefix(n, "A0000") {
			t.Errorf("day table %s created", n)
		}
	}
	if n := srv.Stats().BadWindows.Load(); n != 3*uint64(len(cases)) {
		t.Errorf("%d bad windows counted, want %d", n, 3*len(cases))
	}
}

// TestAuthTellsNothing: an unknown gateway and a wrong secret get the same
// status and bytes in about the same time; a replayed or stale request is
// refused; refusals are counted and their log lines rate-limited.
func TestAuthTellsNothing(t *testing.T) {
	hoRoot := t.TempDir()
	var logBuf syncbuf.Buffer
	srv := startServer(t, hoRoot, nil, nil, func(c *datasync.ServerConfig) {
		c.Logger = slogTo(&logBuf)
	})
	client := &http.Client{}
	get := func(gw, secret string) (answer, time.Duration) {
		start := time.Now()
		a := send(t, client, srv.URL, "GET", "/v1/progress", gw, secret, nil, nil)
		return a, time.Since(start)
	}
	unknown, _ := get("DEADBEEF", secretA)
	wrong, _ := get(gwA, secretB)
	if unknown.status != 401 || unknown.raw != wrong.raw || wrong.status != 401 {
		t.Errorf("unknown gateway: %d %q; wrong secret: %d %q; want the same 401", unknown.status, unknown.raw, wrong.status, wrong.raw)
	}
	// Timing: interleaved, median of many; the two take the same path.
	var tu, tw []time.Duration
	for range 300 {
		_, d := get("DEADBEEF", secretA)
		tu = append(tu, d)
		_, d = get(gwA, secretB)
		tw = append(tw, d)
	}
	slices.Sort(tu)
	slices.Sort(tw)
	mu, mw := tu[len(tu)/2], tw[len(tw)/2]
	t.Logf("median answer: unknown gateway %v, wrong secret %v", mu, mw)
	if r := float64(mu) / float64(mw); r < 0.5 || r > 2 {
		t.Errorf("unknown gateway takes %v, wrong secret %v: they can be told apart", mu, mw)
	}
	// A replayed request: the same signed bytes twice.
	req, _ := http.NewRequest("GET", srv.URL+"/v1/progress", nil)
	datasync.Sign(req, gwA, secretA)
	for i, want := range []int{200, 401} {
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (i == 1 && !strings.Contains(string(body), "replayed")) {
			t.Errorf("send %d of the same request: %d %s, want %d", i+1, resp.StatusCode, body, want)
		}
	}
	// A stale one: signed ten minutes ago.
	req, _ = http.NewRequest("GET", srv.URL+"/v1/progress", nil)
	datasync.SignAt(req, gwA, secretA, time.Now().Add(-10*time.Minute))
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("stale request: %v %v, want 401", resp.StatusCode, err)
	}
	if n := srv.Stats().AuthFailed.Load(); n != 2+600+2 {
		t.Errorf("%d authentication failures counted, want %d", n, 2+600+2)
	}
	if n := strings.Count(logBuf.String(), "request refused"); n > 25 {
		t.Errorf("%d refusal lines logged for 604 refusals in a few seconds: not rate-limited", n)
	}
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// TestLoadsPerGateway: a gateway whose load fails (here its users table is
// unreadable) backs off alone: the other's last_loaded moves on, the pass
// does not fail, the failing one's last_error says why; once fixed, it is
// loaded after its backoff.
func TestLoadsPerGateway(t *testing.T) {
	db, _ := testdb.New(t)
	hoRoot := t.TempDir()
	// Received by a server without a database, loaded by one that does
	// not listen: the loads happen when the test says.
	recv := startServer(t, hoRoot, nil, nil, nil)
	for i, gw := range []string{gwA, gwB} {
		root := t.TempDir()
		writeWindow(t, root, gw, t0, uint64(i+1), 20)
		writeConfig(t, root, gw, 0)
		push(t, clientConfig(t, root, gw, recv.URL, nil))
	}
	recv.Stop()
	srv, err := datasync.NewServer(datasync.ServerConfig{Root: hoRoot, Gateways: gateways(), Logger: testLogger(t)}, db)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	users := filepath.Join(hoRoot, "config", gwB, "users.tsv")
	data, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(users)
	os.Mkdir(users, 0o755) // unreadable as a file: the load of B's config fails
	ctx := context.Background()
	if err := srv.LoadOnce(ctx); err != nil {
		t.Fatalf("one gateway's failure failed the pass: %v", err)
	}
	st, _ := datasync.ReadServerState(hoRoot)
	win := t0.Format(datasync.WindowLayout)
	if st[gwA].LastLoaded != win || st[gwA].LastError != "" {
		t.Errorf("gateway A: last_loaded %q, last_error %q; want %s and none", st[gwA].LastLoaded, st[gwA].LastError, win)
	}
	if st[gwB].LastLoaded != "" || !strings.Contains(st[gwB].LastError, "users.tsv") {
		t.Errorf("gateway B: last_loaded %q, last_error %q; want none and the users.tsv error", st[gwB].LastLoaded, st[gwB].LastError)
	}
	errsBefore := srv.Stats().LoadErrors.Load()
	srv.LoadOnce(ctx) // B is backing off: not tried again at once
	if n := srv.Stats().LoadErrors.Load(); n != errsBefore {
		t.Errorf("B was retried at once (%d load errors, was %d)", n, errsBefore)
	}
	os.Remove(users)
	os.WriteFile(users, data, 0o644)
	time.Sleep(1100 * time.Millisecond) // the first backoff is about a second
	for i := 0; i < 20; i++ {
		if err := srv.LoadOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ = datasync.ReadServerState(hoRoot); st[gwB].LastLoaded == win {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st[gwB].LastLoaded != win || st[gwB].LastError != "" {
		t.Errorf("gateway B after the fix: last_loaded %q, last_error %q", st[gwB].LastLoaded, st[gwB].LastError)
	}
}

// TestFutureWindowQuarantined: a window far in the future (a branch clock
// that jumped) is set aside by push without moving its watermark, so the
// real windows before it and after the clock is fixed still ship.
func TestFutureWindowQuarantined(t *testing.T) {
	hoRoot, root := t.TempDir(), t.TempDir()
	srv := startServer(t, hoRoot, nil, nil, nil)
	now := time.Now().Truncate(5 * time.Minute)
	writeWindow(t, root, gwA, now.Add(-20*time.Minute), 1, 20)
	writeWindow(t, root, gwA, now.Add(24*time.Hour), 2, 20)
	cfg := clientConfig(t, root, gwA, srv.URL, nil)
	c := push(t, cfg)
	if n := c.Stats().Quarantined.Load(); n != 11 {
		t.Errorf("%d files quarantined, want the 11 of the future window", n)
	}
	if got, want := c.Watermark(), now.Add(-20*time.Minute).Format(datasync.WindowLayout); got != want {
		t.Errorf("watermark %s, want %s (not the future window)", got, want)
	}
	writeWindow(t, root, gwA, now.Add(-10*time.Minute), 3, 20)
	c = push(t, cfg)
	if got, want := c.Watermark(), now.Add(-10*time.Minute).Format(datasync.WindowLayout); got != want || c.Stats().Files.Load() != 11 {
		t.Errorf("after the clock is fixed: watermark %s, %d files sent; want %s and 11", got, c.Stats().Files.Load(), want)
	}
	if _, err := os.Stat(filepath.Join(hoRoot, "sync", gwA, now.Add(24*time.Hour).Format("20060102"))); err == nil {
		t.Error("head office stored something of the future window")
	}
}
