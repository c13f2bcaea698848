package datasync_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
)

// frame encodes data as one frame; bad spoils its checksum.
func frame(data []byte, bad bool) []byte {
	sum := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
	if bad {
		sum ^= 1
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(data)))
	out = binary.LittleEndian.AppendUint32(out, sum)
	return append(out, data...)
}

func shaHex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// request is one raw request against the server.
type request struct {
	name    string
	method  string
	path    string
	gw      string
	secret  string
	headers map[string]string
	body    []byte
	status  int
	errText string
}

func (r request) do(t *testing.T, client *http.Client, base string) {
	t.Helper()
	req, err := http.NewRequest(r.method, base+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	// Keep the path exactly as written: no cleaning of ../ on the way.
	req.URL.Opaque = "//" + req.URL.Host + r.path
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	if r.method == http.MethodPost && req.Header.Get(datasync.HeaderSha256) == "" {
		req.Header.Set(datasync.HeaderSha256, shaHex(r.body)) // a commit signs its body's hash
	}
	if r.gw != "" {
		req.Header.Set(datasync.HeaderGateway, r.gw)
	}
	if r.secret != "" {
		datasync.Sign(req, r.gw, r.secret)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	defer resp.Body.Close()
	var eb datasync.ErrorBody
	data, _ := io.ReadAll(resp.Body)
	json.Unmarshal(data, &eb)
	if resp.StatusCode != r.status || !strings.Contains(eb.Error, r.errText) {
		t.Errorf("%s: %d %q, want %d and an error containing %q", r.name, resp.StatusCode, eb.Error, r.status, r.errText)
	}
}

// signedHeaders returns the header lines of a signed request, for raw
// requests written on a connection.
func signedHeaders(t testing.TB, method, path, gw, secret string, hdr map[string]string) string {
	req, err := http.NewRequest(method, "http://x"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	datasync.Sign(req, gw, secret)
	var b strings.Builder
	for k, v := range req.Header {
		b.WriteString(k + ": " + v[0] + "\r\n")
	}
	return b.String()
}

// noFiles asserts that the server wrote no file except its state.
func noFiles(t *testing.T, root, when string) {
	t.Helper()
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if !strings.HasPrefix(rel, "state"+string(filepath.Separator)) {
			t.Errorf("%s: file written: %s", when, rel)
		}
		return nil
	})
}

func upload(name string, size int, sum string, offset int) map[string]string {
	return map[string]string{datasync.HeaderSize: strconv.Itoa(size), datasync.HeaderSha256: sum, datasync.HeaderOffset: strconv.Itoa(offset)}
}

// TestHostileInput sends what a hostile or broken client might: each gets
// a clear error and its status, and no file is written.
func TestHostileInput(t *testing.T) {
	hoRoot := t.TempDir()
	srv := startServer(t, hoRoot, nil, nil, func(c *datasync.ServerConfig) {
		c.MaxFileSize = 1 << 20
		c.Quota = 1 << 19
	})
	content := lz4Rows("1\t2026-11-21 13:00:00.000000\tsome row\n")
	sum := shaHex(content)
	good := "20261121_1300_" + gwA + "_A.dat"
	put := func(name, path string, hdr map[string]string, body []byte, status int, text string) request {
		return request{name: name, method: "PUT", path: path, gw: gwA, secret: secretA, headers: hdr, body: body, status: status, errText: text}
	}
	cases := []request{
		{name: "unknown gateway", method: "GET", path: "/v1/progress", gw: "DEADBEEF", secret: secretA, status: 401, errText: "authentication failed"},
		{name: "no gateway", method: "GET", path: "/v1/progress", status: 401, errText: "authentication failed"},
		{name: "wrong secret", method: "PUT", path: "/v1/files/" + good, gw: gwA, secret: secretB, headers: upload(good, len(content), sum, 0),
			body: frame(content, false), status: 401, errText: "authentication failed"},
		{name: "no secret", method: "GET", path: "/v1/progress", gw: gwA, status: 401, errText: "authentication failed"},
		put("another gateway's file", "/v1/files/20261121_1300_"+gwB+"_A.dat", upload("", len(content), sum, 0), frame(content, false), 403, "may not write"),
		put("dot-dot path", "/v1/files/../../../etc/passwd", upload("", len(content), sum, 0), frame(content, false), 400, "not a file name"),
		put("escaped dot-dot", "/v1/files/..%2F..%2Fsync%2F"+gwA+"%2F20261121%2F"+good, upload("", len(content), sum, 0), frame(content, false), 400, "not a file name"),
		put("absolute path", "/v1/files/%2Fetc%2Fpasswd", upload("", len(content), sum, 0), frame(content, false), 400, "not a file name"),
		put("window not on 5 minutes", "/v1/files/20261121_1302_"+gwA+"_A.dat", upload("", len(content), sum, 0), frame(content, false), 400, "5-minute boundary"),
		put("lower-case gateway", "/v1/files/20261121_1300_5f86f7a5_A.dat", upload("", len(content), sum, 0), frame(content, false), 400, "not 8 hex digits"),
		put("unknown table", "/v1/files/20261121_1300_"+gwA+"_Z.dat", upload("", len(content), sum, 0), frame(content, false), 400, "unknown table letter"),
		put("open window", "/v1/files/"+good+".part", upload("", len(content), sum, 0), frame(content, false), 400, ".part"),
		put("not a sync_file", "/v1/files/passwd", upload("", len(content), sum, 0), frame(content, false), 400, "not a sync_file name"),
		put("not a config table", "/v1/files/users.csv", upload("", len(content), sum, 0), frame(content, false), 400, "not a sync_file name"),
		put("declared too big", "/v1/files/"+good, upload("", 2<<20, sum, 0), frame(content, false), 413, "over the 1048576 byte limit"),
		put("over quota", "/v1/files/"+good, upload("", 1<<20-1, sum, 0), frame(content, false), 507, "quota of gateway "+gwA+" exceeded"),
		put("frame longer than declared", "/v1/files/"+good, upload("", 10, shaHex(content[:10]), 0), frame(content, false), 413, "more than the declared size allows"),
		put("body longer than declared", "/v1/files/"+good, upload("", len(content), sum, 0), append(frame(content, false), frame([]byte("more"), false)...), 413, "goes on after"),
		put("bad frame checksum", "/v1/files/"+good, upload("", len(content), sum, 0), frame(content, true), 422, "frame checksum mismatch"),
		put("wrong sha256", "/v1/files/"+good, upload("", len(content), shaHex([]byte("other")), 0), frame(content, false), 422, "sha256 of the whole file"),
		put("malformed sha256", "/v1/files/"+good, upload("", len(content), "abc", 0), frame(content, false), 400, "bad sha256"),
		put("offset past the end", "/v1/files/"+good, upload("", len(content), sum, 99), frame(content, false), 400, "bad offset"),
		put("offset ahead of the server", "/v1/files/"+good, upload("", len(content), sum, 5), frame(content[5:], false), 416, "resume from 0"),
		put("body cut short", "/v1/files/"+good, upload("", len(content), sum, 0), frame(content, false)[:20], 408, "body ended"),
		{name: "commit of a file never sent", method: "POST", path: "/v1/windows/20261121_1300", gw: gwA, secret: secretA,
			body: []byte(`{"files":[{"name":"` + good + `","size":` + strconv.Itoa(len(content)) + `,"sha256":"` + sum + `"}]}`), status: 409, errText: "send it first"},
		{name: "commit of another gateway's file", method: "POST", path: "/v1/windows/20261121_1300", gw: gwA, secret: secretA,
			body: []byte(`{"files":[{"name":"20261121_1300_` + gwB + `_A.dat","size":38,"sha256":"` + sum + `"}]}`), status: 403, errText: "may not write"},
		{name: "commit of a bad window", method: "POST", path: "/v1/windows/2026112_1300", gw: gwA, secret: secretA, body: []byte(`{}`), status: 400, errText: "bad window"},
		{name: "unknown endpoint", method: "DELETE", path: "/v1/files/" + good, gw: gwA, secret: secretA, status: 405, errText: "use GET or PUT"},
	}
	client := &http.Client{}
	for _, c := range cases {
		c.do(t, client, srv.URL)
		noFiles(t, hoRoot, c.name)
	}
	if n := srv.Stats().Rejected.Load(); n != uint64(len(cases)) {
		t.Errorf("server counted %d refusals, want %d", n, len(cases))
	}
	// The server is still serving: a real upload of the same file works.
	request{name: "good upload", method: "PUT", path: "/v1/files/" + good, gw: gwA, secret: secretA,
		headers: upload(good, len(content), sum, 0), body: frame(content, false), status: 200}.do(t, client, srv.URL)
	got, err := os.ReadFile(filepath.Join(hoRoot, "sync", gwA, "20261121", good))
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("good upload: %q, %v", got, err)
	}
}

// TestSlowLoris: a client that trickles its headers, or stops in the
// middle of a body, is cut after the idle timeout, and no file is written.
func TestSlowLoris(t *testing.T) {
	hoRoot := t.TempDir()
	srv := startServer(t, hoRoot, nil, nil, func(c *datasync.ServerConfig) { c.IdleTimeout = time.Second })
	content := bytes.Repeat([]byte("row\n"), 1000)
	name := "20261121_1300_" + gwA + "_A.dat"
	cases := []struct {
		name  string
		send  string
		reply string // start of the answer, or "" for a closed connection
	}{
		{"headers trickled", "PUT /v1/files/" + name + " HTTP/1.1\r\nHost: x\r\nX-Acstore-Gate", ""},
		{"body stalls", "PUT /v1/files/" + name + " HTTP/1.1\r\nHost: x\r\n" +
			signedHeaders(t, "PUT", "/v1/files/"+name, gwA, secretA, upload(name, 4000, shaHex(content), 0)) +
			"Content-Length: 4008\r\n\r\n" + string(frame(content, false)[:100]), "HTTP/1.1 408"},
	}
	for _, c := range cases {
		conn, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		conn.Write([]byte(c.send))
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(conn)
		took := time.Since(start)
		conn.Close()
		if took > 5*time.Second || took < 900*time.Millisecond {
			t.Errorf("%s: connection ended after %v, want about the 1 s idle timeout", c.name, took)
		}
		// Go's server answers a header timeout with 400 and closes.
		if c.reply == "" && len(got) != 0 && !strings.HasPrefix(string(got), "HTTP/1.1 400") {
			t.Errorf("%s: answer %q", c.name, got)
		}
		if c.reply != "" && !strings.HasPrefix(string(got), c.reply) {
			t.Errorf("%s: answer %q, want %q", c.name, got, c.reply)
		}
		if _, err := os.Stat(filepath.Join(hoRoot, "sync", gwA, "20261121", name)); err == nil {
			t.Errorf("%s: file published", c.name)
		}
	}
}

// TestMutualTLS: with -tls-ca the server wants a client certificate naming
// the gateway; another gateway's certificate gets 403, none fails the
// handshake, the right one works.
func TestMutualTLS(t *testing.T) {
	p := newPKI(t, gwA, gwB)
	hoRoot, root := t.TempDir(), t.TempDir()
	srv := startServer(t, hoRoot, nil, p, func(c *datasync.ServerConfig) { c.TLS.CA = p.ca })
	writeWindow(t, root, gwA, t0, 1, 20)
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(p.ca)
	pool.AppendCertsFromPEM(caPEM)
	certB, _ := tls.LoadX509KeyPair(p.clientCert[gwB], p.clientKy[gwB])
	wrong := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{certB}}}}
	request{name: "A with B's certificate", method: "GET", path: "/v1/progress", gw: gwA, secret: secretA, status: 403,
		errText: `client certificate is for "` + gwB + `"`}.do(t, wrong, srv.URL)
	none := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := none.Get(srv.URL + "/v1/progress"); err == nil {
		resp.Body.Close()
		t.Error("a client without a certificate was let in")
	}
	cfg := clientConfig(t, root, gwA, srv.URL, p)
	cfg.TLS.Cert, cfg.TLS.Key = p.clientCert[gwA], p.clientKy[gwA]
	c := push(t, cfg)
	if n := c.Stats().Files.Load(); n != 11 {
		t.Errorf("%d files sent with mutual TLS, want 11", n)
	}
	var files int
	logfile.WalkSync(hoRoot, func(string, logfile.Name) error { files++; return nil })
	if files != 11 {
		t.Errorf("%d files at head office, want 11", files)
	}
}
