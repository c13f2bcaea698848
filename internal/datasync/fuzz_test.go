package datasync_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/hostile"
)

// FuzzServer sends arbitrary requests (method, path, headers, body),
// signed or not, to a live server (httptest) and checks that no input gets
// a 5xx other than 503 (busy) and 507 (quota, disk): whatever a peer sends
// is a 4xx or accepted, never the server's own failure.
func FuzzServer(f *testing.F) {
	good := lz4Rows("1\t2026-11-21 13:00:00.000000\trow\n")
	name := "20261121_1300_" + gwA + "_A.dat"
	up := func(name string, content []byte) string {
		return datasync.HeaderSize + ": " + strconv.Itoa(len(content)) + "\n" + datasync.HeaderSha256 + ": " + shaHex(content) + "\n" + datasync.HeaderOffset + ": 0"
	}
	f.Add("PUT", "/v1/files/"+name, up(name, good), frames(good), true)
	f.Add("GET", "/v1/files/"+name+"?size=3&sha256="+shaHex(good), "", []byte{}, true)
	f.Add("GET", "/v1/progress", "", []byte{}, true)
	f.Add("POST", "/v1/windows/20261121_1300", "", []byte(`{"files":[{"name":"`+name+`","size":3,"sha256":"`+shaHex(good)+`"}]}`), true)
	x := "20261121_1300_" + gwA + "_X.dat"
	b := hostile.Bundle(hostile.ZeroEntry(1000))
	f.Add("PUT", "/v1/files/"+x, up(x, b), frames(b), true)
	xz := hostile.XZDict([]byte("1\tx\n"), 37)
	f.Add("PUT", "/v1/files/"+name, up(name, xz), frames(xz), true)
	f.Add("PUT", "/v1/files/users.tsv", up("users.tsv", []byte("u\n")), frames([]byte("u\n")), true)
	f.Add("PUT", "/v1/files/../x", "", []byte("junk"), false)

	root := f.TempDir()
	srv, err := datasync.NewServer(datasync.ServerConfig{Root: root, Gateways: gateways(), IdleTimeout: time.Second,
		MaxFileSize: 1 << 20, Quota: 4 << 20, WindowPast: 20 * 365 * 24 * time.Hour}, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	client := ts.Client()
	f.Fuzz(func(t *testing.T, method, path, headers string, body []byte, sign bool) {
		req, err := http.NewRequest(method, ts.URL+"/", bytes.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		p, q, _ := strings.Cut(path, "?")
		if strings.ContainsAny(path, " \r\n\t#\x00") {
			return // not a request line a client can send
		}
		// The path goes as it is, not cleaned: ../ and %2F reach the server.
		req.URL.Opaque = "//" + req.URL.Host + "/" + strings.TrimLeft(p, "/")
		req.URL.RawQuery = q
		for _, line := range strings.Split(headers, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && k != "" {
				req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
		if sign {
			datasync.Sign(req, gwA, secretA)
		}
		resp, err := client.Do(req)
		if err != nil {
			return // refused by the client library: never reached the server
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if s := resp.StatusCode; s >= 500 && s != 503 && s != 507 {
			t.Fatalf("%s %s (headers %q, %d bytes of body): %d %s", method, path, headers, len(body), s, msg)
		}
	})
}
