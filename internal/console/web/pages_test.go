package web_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/console/web"
	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/xbundle"
)

// TestPages opens the reports, the branches page and the console over TLS,
// on one fixture.
func TestPages(t *testing.T) {
	f := newFixture(t, time.Minute)
	t.Run("reports", func(t *testing.T) { testReports(t, f) })
	t.Run("branches", func(t *testing.T) { testBranches(t, f) })
	t.Run("tls", func(t *testing.T) { testTLS(t, f) })
	t.Run("head-office attachments", func(t *testing.T) { testUnpacked(t, f) })
}

// testUnpacked downloads an attachment from where datasync serve unpacks
// bundles at head office (<data>/attachments/<GW>/<day>/<sha256>), with
// the window's X bundle gone.
func testUnpacked(t *testing.T, f *fixture) {
	// The "SMTP" mail of smtp.pcap, with NEWS.txt.
	const day = "20091005"
	bundles, _ := filepath.Glob(filepath.Join(f.root, "sync", gwMain, day, "*_X.dat"))
	if len(bundles) == 0 {
		t.Fatal("no X bundle in the fixture")
	}
	dir := filepath.Join(f.root, "attachments", gwMain, day)
	must(t, os.MkdirAll(dir, 0o755))
	for _, b := range bundles {
		fh, err := os.Open(b)
		must(t, err)
		fi, _ := fh.Stat()
		r, err := xbundle.NewReader(fh, fi.Size())
		must(t, err)
		for _, e := range r.Entries() {
			data, err := r.Content(e)
			must(t, err)
			must(t, os.WriteFile(filepath.Join(dir, e.Hex()), data, 0o644))
		}
		fh.Close()
		must(t, os.Rename(b, b+".away"))
		defer os.Rename(b+".away", b)
	}
	var id uint64
	must(t, f.db.QueryRow("SELECT id FROM M"+day+" WHERE gw = ? AND mail_subject = 'SMTP'", gwMain).Scan(&id))
	c := f.client(t, "")
	c.login(t, "admin", f.adminPW)
	resp, err := c.Get(fmt.Sprintf("%s/att/M%s/%s/%d/0", f.url, day, gwMain, id))
	must(t, err)
	body := readAll(resp)
	sum := sha256.Sum256([]byte(body))
	const newsSHA = "ac04c5d2cd8fa9a2670c959806f5181a56b3e9bb1cc7da150af98ba074c86b55" // NEWS.txt of smtp.pcap
	if resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != newsSHA ||
		resp.Header.Get("Content-Disposition") != "attachment; filename=NEWS.txt" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("head-office attachment: %d, %s, %q, %q", resp.StatusCode, hex.EncodeToString(sum[:]),
			resp.Header.Get("Content-Disposition"), resp.Header.Get("Content-Type"))
	}
	// A content file that does not match its name is not served.
	must(t, os.WriteFile(filepath.Join(dir, newsSHA), []byte("tampered"), 0o644))
	if st, _ := c.get(t, fmt.Sprintf("/att/M%s/%s/%d/0", day, gwMain, id)); st != http.StatusNotFound {
		t.Errorf("tampered content: %d, want 404", st)
	}
}

// testReports opens every report and its CSV: each answers 200, the CSV
// has as many rows as the page's table, and top hosts equal their GROUP
// BY over the raw rows.
func testReports(t *testing.T, f *fixture) {
	c := f.client(t, "")
	if st := c.login(t, "admin", f.adminPW); st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}
	span := "from=2022-03-17T00:00&to=2022-03-18T00:00"
	for _, kind := range []string{"traffic", "flows", "trend", "online", "web", "hosts", "urls"} {
		st, page := c.get(t, "/report/"+kind+"?"+span)
		if st != 200 || !strings.Contains(page, `id="chart"`) || !strings.Contains(page, `id="parts"`) {
			t.Errorf("report %s: %d, chart or tables used missing", kind, st)
			continue
		}
		st, body := c.get(t, "/report/"+kind+"?"+span+"&format=csv")
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if st != 200 || err != nil || len(recs) < 2 {
			t.Errorf("report %s CSV: %d, %v, %d records", kind, st, err, len(recs))
			continue
		}
		table := page[strings.Index(page, `id="reporttable"`):]
		table = table[:strings.Index(table, "</table>")]
		if rows := strings.Count(table, "<tr>") - 1; rows != len(recs)-1 {
			t.Errorf("report %s: page table has %d rows, CSV %d", kind, rows, len(recs)-1)
		}
	}
	// Top hosts from the raw U rows.
	_, body := c.get(t, "/report/hosts?"+span+"&format=csv&top=3")
	var want strings.Builder
	want.WriteString("host,requests,resp_body_bytes\n")
	rows, err := f.db.Query("SELECT host, COUNT(*), SUM(resp_body_bytes) FROM U" + dayWeb + " GROUP BY host ORDER BY 2 DESC, 1 LIMIT 3")
	must(t, err)
	for rows.Next() {
		var h string
		var n, b int64
		must(t, rows.Scan(&h, &n, &b))
		want.WriteString(h + "," + strconv.FormatInt(n, 10) + "," + strconv.FormatInt(b, 10) + "\n")
	}
	rows.Close()
	if body != want.String() {
		t.Errorf("top hosts CSV:\n%s\nwant:\n%s", body, want.String())
	}
	// The admin reads the reports just run in the audit trail.
	if st, page := c.get(t, "/admin/audit?action=report&user=admin"); st != 200 || !strings.Contains(page, "/report/hosts?"+strings.ReplaceAll(span, "&", "&amp;")+"&amp;format=csv&amp;top=3") {
		t.Errorf("audit page: %d, the CSV download of top hosts is not listed", st)
	}
	// Chinese labels.
	if _, page := c.get(t, "/report/traffic?"+span+"&lang=zh"); !strings.Contains(page, "使用的表") || !strings.Contains(page, `lang="zh-CN"`) {
		t.Error("?lang=zh does not give Chinese labels")
	}
}

// testBranches shows datasync's server state per gateway, only the
// auditor's own to an auditor.
func testBranches(t *testing.T, f *fixture) {
	now := time.Now()
	state := map[string]*datasync.GatewayState{
		gwMain: {LastReceived: now.Add(-10 * time.Minute).Format(datasync.WindowLayout), ReceivedAt: now,
			LastLoaded: now.Add(-20 * time.Minute).Format(datasync.WindowLayout), LoadedAt: now},
		gwOther: {LastReceived: "20260101_0000", LastLoaded: "20260101_0000", LastError: "load: disk full"},
	}
	data, _ := json.Marshal(state)
	must(t, os.MkdirAll(filepath.Join(f.root, "state", "datasync"), 0o755))
	must(t, os.WriteFile(filepath.Join(f.root, "state", "datasync", "server.json"), data, 0o644))
	admin := f.client(t, "")
	admin.login(t, "admin", f.adminPW)
	st, page := admin.get(t, "/branches")
	if st != 200 || !strings.Contains(page, gwMain) || !strings.Contains(page, gwOther) || !strings.Contains(page, "load: disk full") {
		t.Errorf("admin's branches page: %d, want both gateways and the error", st)
	}
	// gwMain: 10 minutes received but not loaded are 2 windows of backlog.
	if !strings.Contains(page, "<td>2</td>") {
		t.Errorf("branches page lacks the backlog of 2 windows")
	}
	aud := f.client(t, "")
	aud.login(t, "auditor", f.auditorPW)
	_, page = aud.get(t, "/branches")
	if !strings.Contains(page, gwMain) || strings.Contains(page, gwOther) {
		t.Errorf("auditor's branches page shows other gateways")
	}
}

// testTLS serves the console over TLS: the session cookie is Secure and
// the answers carry HSTS.
func testTLS(t *testing.T, f *fixture) {
	cert, key := selfSigned(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := web.New(ctx, web.Config{DB: f.db, Root: f.root, Secure: true})
	must(t, err)
	cfg, err := web.TLSConfig(cert, key)
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Listen(ctx, ln, cfg) }()
	defer func() { cancel(); <-done }()
	certPEM, _ := os.ReadFile(cert)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "https://" + ln.Addr().String()
	resp, err := hc.Get(base + "/login")
	must(t, err)
	page := readAll(resp)
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS header over TLS")
	}
	resp, err = hc.PostForm(base+"/login", url.Values{"csrf": {csrfOf(page)}, "user": {"admin"}, "password": {f.adminPW}})
	must(t, err)
	readAll(resp)
	var secure bool
	for _, c := range resp.Cookies() {
		if c.Name == "acs_session" {
			secure = c.Secure && c.HttpOnly && c.SameSite == http.SameSiteStrictMode
		}
	}
	if resp.StatusCode != http.StatusSeeOther || !secure {
		t.Errorf("login over TLS: %d, session cookie Secure+HttpOnly+Strict %v", resp.StatusCode, secure)
	}
}

func readAll(r *http.Response) string {
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "console"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	cert, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	must(t, os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return cert, kf
}
