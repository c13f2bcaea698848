package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/console/account"
	"github.com/acstore/acstore/internal/console/web"
	"github.com/acstore/acstore/internal/spider"
	"github.com/acstore/acstore/internal/testdb"
)

// Gateways of the fixture: the same capture parsed as two branches, so
// scope tests can tell their rows apart.
const (
	gwMain  = "5F86F7A5"
	gwOther = "0A0B0C0D"
	// day of the browsing capture and of the SMTP captures.
	dayWeb  = "20220317"
	dayMail = "20131217"
)

// fixture is a database and data root filled by the real programs
// (aclog, loader, midtable) from bundled captures, and a console serving
// them on a loopback port.
type fixture struct {
	db   *sql.DB
	dsn  string
	root string
	url  string
	srv  *web.Server
	// front, when set, is the Spider front the console reads the logs
	// through (db is then the default shard).
	front *spider.Front
	// Passwords of the users the fixture created.
	adminPW, auditorPW string
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// programs builds aclog, loader and midtable once per test binary.
func programs(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "console-bin-")
		if binErr != nil {
			return
		}
		top := moduleRoot(t)
		cmd := exec.Command("go", "build", "-o", binDir+"/", "./aclog", "./loader", "./midtable")
		cmd.Dir = top
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = &buildError{out: string(out), err: err}
		}
	})
	if binErr != nil {
		t.Fatalf("build programs: %v", binErr)
	}
	return binDir
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func moduleRoot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// newFixture fills a fresh database and starts a console on it.
func newFixture(t *testing.T, lockout time.Duration) *fixture {
	t.Helper()
	db, dsn := testdb.New(t)
	bin := programs(t)
	top := moduleRoot(t)
	f := &fixture{db: db, dsn: dsn, root: t.TempDir()}
	cfg := filepath.Join(f.root, "config")
	os.MkdirAll(cfg, 0o755)
	for _, n := range []string{"users.tsv", "groups.tsv"} {
		data, err := os.ReadFile(filepath.Join(top, "testdata/demo/config", n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(cfg, n), data, 0o644)
	}
	pcaps := filepath.Join(top, "aclog/testdata/pcaps")
	web := filepath.Join(pcaps, "mixed/tls-subjectaltname_input.pcap")
	run(t, bin+"/aclog", "-data", f.root, "-gateway", gwMain, "-log-level", "warn", "-r", web,
		filepath.Join(pcaps, "smtp/smtp-zip.pcap"), filepath.Join(pcaps, "smtp/smtp.pcap"))
	// The other branch in a data root of its own (aclog knows a capture
	// by its content and would skip it), loaded into the same database.
	other := t.TempDir()
	os.CopyFS(filepath.Join(other, "config"), os.DirFS(cfg))
	run(t, bin+"/aclog", "-data", other, "-gateway", gwOther, "-log-level", "warn", "-r", web,
		filepath.Join(pcaps, "smtp/smtp-zip.pcap"))
	for _, root := range []string{f.root, other} {
		run(t, bin+"/loader", "-data", root, "-dsn", dsn, "-once", "-log-level", "warn")
		run(t, bin+"/midtable", "-data", root, "-dsn", dsn, "-once", "-log-level", "warn")
	}
	f.start(t, lockout)
	return f
}

func (f *fixture) start(t *testing.T, lockout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := web.New(ctx, web.Config{DB: f.db, Front: f.front, Root: f.root, Lockout: lockout})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	f.adminPW, f.auditorPW = "admin-password-1", "auditor-password-1"
	must(t, srv.Users().Put(ctx, account.User{Name: "admin", Role: account.Admin}, f.adminPW))
	must(t, srv.Users().Put(ctx, account.User{Name: "auditor", Role: account.Auditor, Gateways: []string{gwMain}}, f.auditorPW))
	must(t, srv.Users().Put(ctx, account.User{Name: "emea", Role: account.Auditor, Groups: []string{"Sales/EMEA"}}, f.auditorPW))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Listen(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("console: %v", err)
		}
	})
	f.url = "http://" + ln.Addr().String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// count runs a COUNT(*) query.
func (f *fixture) count(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := f.db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// client is an HTTP client with its own cookies that does not follow
// redirects, so the tests see every status.
type client struct {
	*http.Client
	base string
}

func (f *fixture) client(t *testing.T, local string) *client {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{}
	if local != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		tr.DialContext = d.DialContext
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{Client: &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, base: f.url}
}

func (c *client) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(c.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) post(t *testing.T, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(c.base+path, form)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(body string) string {
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// login logs c in and returns the status of the POST.
func (c *client) login(t *testing.T, user, pw string) int {
	t.Helper()
	_, page := c.get(t, "/login")
	st, _ := c.post(t, "/login", url.Values{"csrf": {csrfOf(page)}, "user": {user}, "password": {pw}})
	return st
}

// csrf returns the session's CSRF token from a page.
func (c *client) csrf(t *testing.T) string {
	t.Helper()
	_, page := c.get(t, "/search?t=Q")
	tok := csrfOf(page)
	if tok == "" {
		t.Fatal("no CSRF token on the search page")
	}
	return tok
}

// total asks /search/count for the total of a search path.
func (c *client) total(t *testing.T, path string) string {
	t.Helper()
	_, q, _ := strings.Cut(path, "?")
	st, body := c.get(t, "/search/count?"+q)
	var v struct{ Total *int64 }
	if err := json.Unmarshal([]byte(body), &v); err != nil || st != 200 || v.Total == nil {
		return fmt.Sprintf("status %d: %s", st, body)
	}
	return fmt.Sprint(*v.Total)
}

// auditCount counts the audit trail's entries matching a condition.
func (f *fixture) auditCount(t *testing.T, cond string, args ...any) int64 {
	return f.count(t, "SELECT COUNT(*) FROM console_audit WHERE "+cond, args...)
}

var _ = bytes.Equal
