package http

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/pcaptest"
)

const pcapRoot = "../../../testdata/pcaps"

// parseCapture feeds every TCP connection of a capture to its own Conn, in
// segments as captured, and returns the transactions.
func parseCapture(t testing.TB, file string) ([]*Transaction, int) {
	conns := map[int]*Conn{}
	var out []*Transaction
	for _, s := range pcaptest.Segments(t, filepath.Join(pcapRoot, file)) {
		if s.UDP {
			continue
		}
		c := conns[s.Conn]
		if c == nil {
			c = NewConn(func(tx *Transaction) { v := *tx; out = append(out, &v) })
			conns[s.Conn] = c
		}
		c.Data(s.FromClient, s.Data, time.Time{})
	}
	errs := 0
	for i := 0; i < len(conns); i++ {
		conns[i].Close(time.Time{})
		errs += conns[i].Errors()
	}
	return out, errs
}

func TestRealCaptures(t *testing.T) {
	tests := []struct {
		file  string
		want  []string // "METHOD host uri status respbody reqbody"
		nerrs int
	}{
		{"http/get.pcap", []string{"GET bro.org /download/CHANGES.bro-aux.txt 200 4705 0"}, 0},
		{"http/post.pcap", []string{"POST httpbin.org /post 200 366 11"}, 0},
		{"http/pipelined-requests.pcap", []string{
			"GET www.mozilla.org /style/enhanced.css 200 946 0", // gzip: Zeek reports 2675 decoded bytes
			"GET www.mozilla.org /script/urchin.js 200 6716 0",  // gzip: Zeek reports 21421 decoded bytes
			"GET www.mozilla.org /images/template/screen/bullet_utility.png 200 94 0",
			"GET www.mozilla.org /images/template/screen/key-point-top.png 200 2349 0",
			"GET www.mozilla.org /projects/calendar/images/header-sunbird.png 200 27579 0",
		}, 0},
		{"http/http-post-upload.pcap", []string{
			"GET 192.168.57.14:8080 /fileupload/ 200 468 0",
			"GET 192.168.57.14:8080 /fileupload/ 200 468 0",
			"POST 192.168.57.14:8080 /fileupload/servlet/UploadHandleServlet 200 144 449", // tshark: Content-Length 449 and 144
		}, 0},
	}
	for _, tt := range tests {
		txs, nerrs := parseCapture(t, tt.file)
		var got []string
		for _, tx := range txs {
			got = append(got, strings.Join([]string{tx.Method, tx.Host, tx.URI, strconv.Itoa(tx.Status), strconv.Itoa(int(tx.ResponseBodyLen)), strconv.Itoa(int(tx.RequestBodyLen))}, " "))
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") || nerrs != tt.nerrs {
			t.Errorf("%s: got (%d errors)\n%s\nwant\n%s", tt.file, nerrs, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}

// TestMethodsCapture: Zeek's methods.pcap has 49 connections of odd request
// lines; 27 of them are requests (tshark's count), the rest have no method
// token ("GET/ HTTP/1.1", binary bytes) and are counted as errors.
func TestMethodsCapture(t *testing.T) {
	txs, nerrs := parseCapture(t, "http/methods.pcap")
	if len(txs) != 27 {
		t.Errorf("%d transactions, want 27", len(txs))
	}
	methods := map[string]int{}
	for _, tx := range txs {
		methods[tx.Method]++
		if tx.Host != "www.google.com" || !tx.HasResponse {
			t.Errorf("odd transaction %+v", *tx)
		}
	}
	if methods["CCM_POST"] != 3 || methods["OPTIONS"] != 3 || methods["HEAD"] != 3 {
		t.Errorf("methods %v", methods)
	}
	if nerrs == 0 {
		t.Error("no errors counted for the malformed request lines")
	}
}

type want struct {
	method, uri     string
	status          int
	reqLen, respLen int64
	incomplete      bool
}

func TestSynthetic(t *testing.T) {
	tests := []struct {
		name      string
		client    string
		server    string
		serverGap int // bytes of server data lost before the server data
		want      []want
	}{
		{
			name:   "chunked response with extension and trailer",
			client: "GET /c HTTP/1.1\r\nHost: h\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
			want:   []want{{"GET", "/c", 200, 0, 11, false}},
		},
		{
			name:   "keep-alive with 100-continue and chunked request",
			client: "POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /n HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
			want:   []want{{"POST", "/u", 201, 3, 2, false}, {"GET", "/n", 304, 0, 0, false}},
		},
		{
			name:   "HEAD response has no body",
			client: "HEAD / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 404 NF\r\nContent-Length: 3\r\n\r\nnop",
			want:   []want{{"HEAD", "/", 200, 0, 0, false}, {"GET", "/x", 404, 0, 3, false}},
		},
		{
			name:   "body until close, bare LF, HTTP/1.0",
			client: "GET /old HTTP/1.0\n\n",
			server: "HTTP/1.0 200 OK\nContent-Type: text/plain\n\nline one\nline two\n",
			want:   []want{{"GET", "/old", 200, 0, 18, false}},
		},
		{
			name:   "request without response",
			client: "DELETE /r HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody",
			want:   []want{{"DELETE", "/r", 0, 4, 0, false}},
		},
		{
			name:   "CONNECT tunnel stops parsing",
			client: "CONNECT a:443 HTTP/1.1\r\n\r\n\x16\x03\x01 binary",
			server: "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03 more",
			want:   []want{{"CONNECT", "a:443", 200, 0, 0, false}},
		},
		{
			name:      "gap inside a sized body is counted",
			client:    "GET /g HTTP/1.1\r\n\r\n",
			serverGap: 0,
			server:    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345",
			want:      []want{{"GET", "/g", 200, 0, 5, true}},
		},
		{
			name:   "garbage request line is skipped",
			client: "\x00\x01\x02 / HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			// The 400 answers the garbage line, which keeps its place
			// in the pairing queue; the real request gets its own 200.
			want: []want{{"GET", "/ok", 200, 0, 0, false}},
		},
	}
	for _, tt := range tests {
		// Feed whole, and byte by byte: the results must not depend on
		// how TCP cut the stream.
		for _, step := range []int{1 << 20, 1, 7} {
			var got []*Transaction
			c := NewConn(func(tx *Transaction) { v := *tx; got = append(got, &v) })
			feed := func(fromClient bool, s string) {
				for len(s) > 0 {
					n := min(step, len(s))
					c.Data(fromClient, []byte(s[:n]), time.Time{})
					s = s[n:]
				}
			}
			feed(true, tt.client)
			feed(false, tt.server)
			c.Close(time.Time{})
			if len(got) != len(tt.want) {
				t.Errorf("%s (step %d): %d transactions, want %d: %+v", tt.name, step, len(got), len(tt.want), got)
				continue
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Method != w.method || g.URI != w.uri || g.Status != w.status || g.RequestBodyLen != w.reqLen ||
					g.ResponseBodyLen != w.respLen || g.Incomplete != w.incomplete {
					t.Errorf("%s (step %d) #%d: got %+v, want %+v", tt.name, step, i, *g, w)
				}
			}
		}
	}
}

func TestGapInBody(t *testing.T) {
	var got []*Transaction
	c := NewConn(func(tx *Transaction) { v := *tx; got = append(got, &v) })
	c.Data(true, []byte("GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"), time.Time{})
	c.Data(false, []byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n123"), time.Time{})
	c.Gap(false, 4) // 4 bytes lost
	c.Data(false, []byte("890HTTP/1.1 204 No Content\r\n\r\n"), time.Time{})
	c.Close(time.Time{})
	if len(got) != 2 || got[0].ResponseBodyLen != 10 || !got[0].Incomplete || got[1].Status != 204 || got[1].URI != "/2" {
		t.Fatalf("got %+v", got)
	}
}

func TestRequestLine(t *testing.T) {
	tests := []struct {
		line                 string
		method, uri, version string
		ok                   bool
	}{
		{"GET / HTTP/1.1", "GET", "/", "HTTP/1.1", true},
		{"OPTIONS * HTTP/1.1", "OPTIONS", "*", "HTTP/1.1", true},
		{"OPTIONS HTTP/1.1", "OPTIONS", "HTTP/1.1", "", true}, // as tshark reads it
		{"OPTIONS", "OPTIONS", "", "", true},
		{"CCM_POST / HTTP/1.1", "CCM_POST", "/", "HTTP/1.1", true},
		{"POST / HTTP/1.", "POST", "/", "HTTP/1.", true},
		{"GET/ HTTP/1.1", "", "", "", false},
		{"OPTIONSHTTP/1.1", "", "", "", false},
		{"\x01\x02 / HTTP/1.1", "", "", "", false},
		{"", "", "", "", false},
	}
	for _, tt := range tests {
		m, u, v, ok := ParseRequestLine([]byte(tt.line))
		if m != tt.method || u != tt.uri || v != tt.version || ok != tt.ok {
			t.Errorf("%q: got %q %q %q %v", tt.line, m, u, v, ok)
		}
	}
}

func TestLimits(t *testing.T) {
	c := NewConn(func(*Transaction) {})
	big := strings.Repeat("X-Filler: "+strings.Repeat("a", 1000)+"\r\n", 100)
	c.Data(true, []byte("GET / HTTP/1.1\r\n"+big), time.Time{})
	if c.Errors() != 1 || cap(c.req.buf) != 0 {
		t.Errorf("oversize header: %d errors, buffer %d", c.Errors(), cap(c.req.buf))
	}
	// Unanswered pipelined requests are capped.
	n := 0
	c = NewConn(func(*Transaction) { n++ })
	c.Data(true, []byte(strings.Repeat("GET / HTTP/1.1\r\n\r\n", MaxPending+10)), time.Time{})
	if len(c.pending) != MaxPending || n != 10 {
		t.Errorf("pending %d, emitted %d", len(c.pending), n)
	}
}

func TestParseDatagram(t *testing.T) {
	tx, ok := ParseDatagram([]byte("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"), time.Time{})
	if !ok || tx.Method != "M-SEARCH" || tx.URI != "*" || tx.Host != "239.255.255.250:1900" {
		t.Errorf("got %+v %v", tx, ok)
	}
	if _, ok := ParseDatagram([]byte("HTTP/1.1 200 OK\r\n\r\n"), time.Time{}); ok {
		t.Error("a response parsed as a request")
	}
}

func FuzzConn(f *testing.F) {
	for _, file := range []string{"http/get.pcap", "http/pipelined-requests.pcap", "http/post.pcap", "http/methods.pcap"} {
		segs := pcaptest.Segments(f, filepath.Join(pcapRoot, file))
		for i, s := range segs {
			if i > 40 {
				break
			}
			f.Add(s.Data, !s.FromClient, uint8(i%7))
		}
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfff\r\nab\r\n0\r\n\r\n"), true, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, serverFirst bool, split uint8) {
		var got []*Transaction
		c := NewConn(func(tx *Transaction) { v := *tx; got = append(got, &v) })
		c.KeepBodies(1024)
		// The same bytes both ways, cut at split, with a gap in between.
		cut := int(split) % (len(data) + 1)
		c.Data(!serverFirst, data[:cut], time.Time{})
		c.Gap(serverFirst, int(split))
		c.Data(serverFirst, data, time.Time{})
		c.Data(!serverFirst, data[cut:], time.Time{})
		c.Close(time.Time{})
		if len(c.req.buf) > MaxHeaderBytes+len(data) || len(c.resp.buf) > MaxHeaderBytes+len(data) {
			t.Fatal("buffer beyond its bound")
		}
		for _, tx := range got {
			if tx.RequestBodyLen < 0 || tx.ResponseBodyLen < 0 {
				t.Fatalf("negative body length %+v", *tx)
			}
			if len(tx.RequestBody) > 1024 || int64(len(tx.RequestBody)) > tx.RequestBodyLen {
				t.Fatalf("body kept %d of %d bytes, cap 1024", len(tx.RequestBody), tx.RequestBodyLen)
			}
		}
	})
}

// TestRequestStrings: the request's text fields share one allocation and
// common methods and versions are shared constants; every field must
// still come out as sent, whichever are common.
func TestRequestStrings(t *testing.T) {
	for _, line := range []string{"GET /a HTTP/1.1", "PROPFIND /b HTTP/1.1", "GET /c HTTP/9.9", "BREW /pot HTCPCP/1.0", "OPTIONS", "GET /d"} {
		hd := headers{host: []byte("h.example"), userAgent: []byte("ua/1"), referer: []byte("http://r/"),
			contentType: []byte("text/plain"), authorization: []byte("Basic eDp5")}
		m, u, v, ok := splitRequestLine([]byte(line))
		if !ok {
			t.Fatalf("%q: not a request line", line)
		}
		var tx Transaction
		tx.setRequestStrings(m, u, v, &hd)
		got := strings.Join([]string{tx.Method, tx.URI, tx.Version, tx.Host, tx.UserAgent, tx.Referer, tx.RequestContentType, tx.Authorization}, "|")
		want := strings.Join([]string{string(m), string(u), string(v), "h.example", "ua/1", "http://r/", "text/plain", "Basic eDp5"}, "|")
		if got != want {
			t.Errorf("%q: got %s, want %s", line, got, want)
		}
	}
}

// TestConnAllocs: a parser reused for connection after connection (Reset,
// as the engine recycles it) allocates for each request only its strings:
// its Transaction is the one emitted before, and the pending queue kept
// its capacity neither through a response taken off its front nor through
// Close.
func TestConnAllocs(t *testing.T) {
	req := []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: test/1\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello")
	ts := time.Unix(1_700_000_000, 0)
	emitted := 0
	c := NewConn(func(*Transaction) { emitted++ })
	connection := func() {
		c.Reset()
		for range 2 { // keep-alive: two transactions
			c.Data(true, req, ts)
			c.Data(false, resp, ts)
		}
		c.Close(ts)
	}
	connection() // the queue's first allocation
	if got := testing.AllocsPerRun(100, connection); got != 2 {
		t.Errorf("%v allocations a connection of 2 transactions, want 2 (the strings of each)", got)
	}
	if emitted != 2*(2+100) { // AllocsPerRun runs once more to warm up
		t.Errorf("%d transactions emitted, want 204", emitted)
	}
}

// TestConnReuseAfterCap: a request the pending cap pushes out while its
// response is still arriving is emitted, but its Transaction is not
// reused: the rest of that response must not land in the next request.
func TestConnReuseAfterCap(t *testing.T) {
	var got []Transaction
	c := NewConn(func(tx *Transaction) { got = append(got, *tx) })
	ts := time.Unix(1_700_000_000, 0)
	c.Data(true, []byte("GET /0 HTTP/1.1\r\n\r\n"), ts)
	c.Data(false, []byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n123"), ts)
	var reqs strings.Builder
	for i := 1; i <= MaxPending+1; i++ {
		fmt.Fprintf(&reqs, "GET /%d HTTP/1.1\r\n\r\n", i)
	}
	c.Data(true, []byte(reqs.String()), ts) // /0 and /1 pushed out
	c.Data(false, []byte("4567890"), ts)    // the rest of /0's response
	c.Data(false, []byte("HTTP/1.1 204 No Content\r\n\r\n"), ts)
	c.Close(ts)
	if len(got) != MaxPending+2 {
		t.Fatalf("%d transactions emitted, want %d", len(got), MaxPending+2)
	}
	if got[0].URI != "/0" || got[0].Status != 200 || got[1].URI != "/1" || got[1].HasResponse {
		t.Errorf("pushed out: %+v, %+v", got[0], got[1])
	}
	if tx := got[2]; tx.URI != "/2" || tx.Status != 204 || tx.ResponseBodyLen != 0 || tx.Incomplete {
		t.Errorf("the next request answered: %+v, want /2 with a 204 and no body", tx)
	}
	for _, tx := range got[3:] {
		if tx.HasResponse || tx.ResponseBodyLen != 0 {
			t.Errorf("a request never answered: %+v", tx)
		}
	}
}
