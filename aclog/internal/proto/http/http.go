// Package http parses HTTP/1.x from the two reassembled byte streams of one
// TCP connection into transactions: each request is one Transaction, paired
// in order with its response (pipelining and keep-alive), with the header
// fields and body sizes an audit log keeps.
//
// The parser is incremental (bytes arrive in whatever pieces TCP delivered
// them), bounded (a header block over MaxHeaderBytes or a connection with
// more than MaxPending unanswered requests is cut off, not buffered), and
// lenient: a request line is accepted when its method is a token, whether or
// not it is a method the parser knows, so odd and extension methods are
// logged; lines that do not even have that shape are counted as errors and
// skipped.
package http

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// Transaction is one HTTP request and, if seen, its response.
type Transaction struct {
	RequestTime time.Time
	Method      string
	URI         string // as sent, not percent-decoded
	Version     string // "HTTP/1.1"; empty for a request line without one
	Host        string
	UserAgent   string
	Referer     string
	// RequestContentType is the request's Content-Type (uploads, forms).
	RequestContentType string
	// RequestBodyLen counts body bytes after removing chunked framing.
	RequestBodyLen int64
	// RequestBody is the body of a POST or PUT, chunked framing removed,
	// at most the cap set with KeepBodies; RequestBodyCut says it is
	// shorter than RequestBodyLen.
	RequestBody    []byte
	RequestBodyCut bool
	// Authorization is the request's Authorization header (credentials
	// are taken from it and it is not logged as is).
	Authorization string

	HasResponse  bool
	ResponseTime time.Time // when the response header was complete
	Status       int
	ContentType  string // the response's Content-Type
	// ResponseBodyLen counts body bytes as transferred: after removing
	// chunked framing, still compressed when the body has a
	// Content-Encoding (Zeek's response_body_len counts decoded bytes, so
	// the two differ for gzip bodies).
	ResponseBodyLen int64
	// Incomplete is set when a gap in the capture or the end of the
	// connection cut one of the bodies short.
	Incomplete bool

	reqDone, respDone bool
	// placeholder stands for a malformed request line: it takes the
	// request's place in the pairing queue, so the server's error response
	// pairs with it instead of with the next real request, and is never
	// emitted.
	placeholder bool
}

// Limits.
const (
	MaxHeaderBytes = 64 << 10
	MaxPending     = 64
	maxLineBytes   = 4 << 10 // chunk-size and trailer lines
)

type state uint8

const (
	stHeader     state = iota // reading a start line and header fields
	stBody                    // reading remaining bytes of a sized body
	stChunkSize               // reading a chunk-size line
	stChunkData               // reading chunk data
	stChunkEnd                // reading the CRLF after chunk data
	stTrailer                 // reading trailer lines after the last chunk
	stUntilClose              // response body delimited by the connection close
	stTunnel                  // after CONNECT/101: not HTTP any more
	stDead                    // lost sync; ignore the rest of this direction
)

// half is the parser state of one direction.
type half struct {
	st        state
	buf       []byte // header block or line being accumulated
	scanned   int    // bytes of buf already searched for the end of the header
	remaining int64  // bytes left of a sized body or chunk
	tx        *Transaction
}

// Conn parses one TCP connection.
type Conn struct {
	req, resp half
	bodyCap   int
	pending   []*Transaction // requests awaiting a response, oldest first
	emit      func(*Transaction)
	errors    int
	now       time.Time
}

// NewConn returns a parser that calls emit for every finished transaction.
// emit receives a Transaction the parser no longer touches.
func NewConn(emit func(*Transaction)) *Conn {
	return &Conn{emit: emit}
}

// Reset makes c a parser for a new connection, as NewConn with the same
// emit func would.
func (c *Conn) Reset() {
	clear(c.pending)
	*c = Conn{emit: c.emit, pending: c.pending[:0]}
}

// KeepBodies makes the parser keep up to n bytes of each POST or PUT
// request body.
func (c *Conn) KeepBodies(n int) { c.bodyCap = n }

// Errors counts malformed start lines, oversize headers and lost syncs.
func (c *Conn) Errors() int { return c.errors }

// Dead reports whether neither direction can yield more records, so the
// caller may stop feeding data.
func (c *Conn) Dead() bool {
	stop := func(h *half) bool { return h.st == stDead || h.st == stTunnel }
	return stop(&c.req) && stop(&c.resp) && len(c.pending) == 0
}

// Data feeds bytes sent by the client (fromClient) or the server.
func (c *Conn) Data(fromClient bool, data []byte, ts time.Time) {
	c.now = ts
	if fromClient {
		c.feed(&c.req, true, data)
	} else {
		c.feed(&c.resp, false, data)
	}
}

// Gap tells the parser n bytes of one direction were never captured.
func (c *Conn) Gap(fromClient bool, n int) {
	h := &c.resp
	if fromClient {
		h = &c.req
	}
	if h.tx != nil {
		h.tx.Incomplete = true
		if fromClient {
			h.tx.RequestBodyCut = true
		}
	}
	switch h.st {
	case stBody, stChunkData:
		if int64(n) <= h.remaining {
			// Count the missing bytes: they were on the wire.
			c.addBody(h, fromClient, int64(n))
			h.remaining -= int64(n)
			if h.remaining == 0 {
				if h.st == stBody {
					c.done(h, fromClient)
				} else {
					h.st = stChunkEnd
				}
			}
			return
		}
	case stUntilClose:
		c.addBody(h, fromClient, int64(n))
		return
	case stHeader:
		// A header block lost part of itself; start over at the next
		// byte we get, hoping it starts a message.
		h.buf, h.scanned = h.buf[:0], 0
		return
	case stTunnel, stDead:
		return
	}
	c.fail(h, fromClient)
}

// Close ends the connection: a body delimited by the close is complete, and
// every transaction still held is emitted.
func (c *Conn) Close(ts time.Time) {
	c.now = ts
	if c.resp.st == stUntilClose {
		c.done(&c.resp, false)
	}
	// A request whose response already finished but whose own body did
	// not is no longer pending; emit it here.
	if tx := c.req.tx; tx != nil && tx.respDone && !c.isPending(tx) {
		tx.Incomplete = true
		c.emit(tx)
	}
	for _, h := range []*half{&c.req, &c.resp} {
		if h.tx != nil {
			h.tx.Incomplete = true
		}
		h.tx = nil
		h.st = stDead
		h.buf = nil
	}
	for _, tx := range c.pending {
		if !tx.placeholder {
			tx.reqDone, tx.respDone = true, true
			c.emit(tx)
		}
	}
	c.pending = nil
}

func (c *Conn) isPending(tx *Transaction) bool {
	for _, p := range c.pending {
		if p == tx {
			return true
		}
	}
	return false
}

func (c *Conn) fail(h *half, fromClient bool) {
	c.errors++
	h.st = stDead
	h.buf = nil
	if h.tx != nil {
		h.tx.Incomplete = true
		if fromClient {
			h.tx.reqDone = true
			c.maybeEmit(h.tx)
		} else {
			c.finishResponse(h.tx)
		}
		h.tx = nil
	}
}

// keepBody keeps request body bytes of a POST or PUT up to the cap.
func (c *Conn) keepBody(tx *Transaction, b []byte) {
	if tx == nil || c.bodyCap <= 0 || (tx.Method != "POST" && tx.Method != "PUT") {
		return
	}
	if room := c.bodyCap - len(tx.RequestBody); room > 0 {
		if len(b) > room {
			b, tx.RequestBodyCut = b[:room], true
		}
		tx.RequestBody = append(tx.RequestBody, b...)
	} else if len(b) > 0 {
		tx.RequestBodyCut = true
	}
}

func (c *Conn) addBody(h *half, fromClient bool, n int64) {
	if h.tx == nil {
		return
	}
	if fromClient {
		h.tx.RequestBodyLen += n
	} else {
		h.tx.ResponseBodyLen += n
	}
}

// feed runs the state machine over data.
func (c *Conn) feed(h *half, fromClient bool, data []byte) {
	for len(data) > 0 {
		switch h.st {
		case stDead, stTunnel:
			return
		case stHeader:
			data = c.header(h, fromClient, data)
		case stBody, stChunkData:
			n := min(int64(len(data)), h.remaining)
			if fromClient {
				c.keepBody(h.tx, data[:n])
			}
			c.addBody(h, fromClient, n)
			h.remaining -= n
			data = data[n:]
			if h.remaining == 0 {
				if h.st == stBody {
					c.done(h, fromClient)
				} else {
					h.st = stChunkEnd
				}
			}
		case stUntilClose:
			c.addBody(h, fromClient, int64(len(data)))
			return
		case stChunkSize, stChunkEnd, stTrailer:
			line, rest, ok := c.line(h, data)
			data = rest
			if !ok {
				if len(h.buf) > maxLineBytes {
					c.fail(h, fromClient)
				}
				continue
			}
			c.chunkLine(h, fromClient, line)
			h.buf = h.buf[:0]
		}
	}
}

// line accumulates one line; ok reports whether line (without CRLF) is
// complete. line may alias h.buf.
func (c *Conn) line(h *half, data []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		h.buf = append(h.buf, data...)
		return nil, nil, false
	}
	if len(h.buf) == 0 {
		line = data[:i]
	} else {
		h.buf = append(h.buf, data[:i]...)
		line = h.buf
	}
	return bytes.TrimSuffix(line, []byte{'\r'}), data[i+1:], true
}

func (c *Conn) chunkLine(h *half, fromClient bool, line []byte) {
	switch h.st {
	case stChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			c.fail(h, fromClient)
			return
		}
		if size == 0 {
			h.st = stTrailer
			return
		}
		h.remaining = size
		h.st = stChunkData
	case stChunkEnd:
		// Should be empty; tolerate junk before the newline.
		h.st = stChunkSize
	case stTrailer:
		if len(line) == 0 {
			c.done(h, fromClient)
		}
	}
}

// header accumulates a header block and, once complete, parses it. It
// returns the unconsumed data.
func (c *Conn) header(h *half, fromClient bool, data []byte) []byte {
	if len(h.buf) == 0 {
		// Empty lines before a message are allowed (RFC 9112 2.2).
		for len(data) > 0 && (data[0] == '\r' || data[0] == '\n') {
			data = data[1:]
		}
		if len(data) == 0 {
			return nil
		}
		if end := headerEnd(data, 0); end > 0 {
			c.message(h, fromClient, data[:end])
			return data[end:]
		}
	}
	from := max(0, len(h.buf)-3)
	h.buf = append(h.buf, data...)
	end := headerEnd(h.buf, from)
	if end < 0 {
		if len(h.buf) > MaxHeaderBytes {
			c.fail(h, fromClient)
		}
		return nil
	}
	// The rest must survive h.buf being reused for the next header.
	rest := bytes.Clone(h.buf[end:])
	c.message(h, fromClient, h.buf[:end])
	if h.st != stDead {
		h.buf = h.buf[:0]
	}
	return rest
}

// headerEnd returns the offset just past the empty line ending a header
// block in b, searching from from, or -1.
func headerEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// message parses a complete header block and sets up the body state.
func (c *Conn) message(h *half, fromClient bool, block []byte) {
	start, fields := splitLine(block)
	if fromClient {
		c.request(h, start, fields)
	} else {
		c.response(h, start, fields)
	}
}

func (c *Conn) request(h *half, start, fields []byte) {
	m, u, v, ok := splitRequestLine(start)
	if !ok {
		// Not a request line. Skip the block as if it had no body, but
		// keep its place in the queue for the response it will get.
		c.errors++
		if len(c.pending) < MaxPending {
			c.pending = append(c.pending, &Transaction{placeholder: true, reqDone: true})
		}
		return
	}
	var hd headers
	hd.parse(fields)
	tx := &Transaction{RequestTime: c.now}
	tx.setRequestStrings(m, u, v, &hd)
	if len(c.pending) >= MaxPending {
		// The server is not answering; do not hold requests forever.
		old := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		old.respDone = true
		c.maybeEmit(old)
	}
	c.pending = append(c.pending, tx)
	h.tx = tx
	switch {
	case hd.chunked:
		h.st = stChunkSize
	case hd.contentLength > 0:
		h.st, h.remaining = stBody, hd.contentLength
	default:
		c.done(h, true)
	}
}

// setRequestStrings sets the request's text fields from its request line
// and headers in one allocation instead of up to eight: they are kept, and
// dropped, together.
func (tx *Transaction) setRequestStrings(method, uri, version []byte, hd *headers) {
	fields := [...]struct {
		dst *string
		b   []byte
	}{{&tx.Method, method}, {&tx.URI, uri}, {&tx.Version, version}, {&tx.Host, hd.host}, {&tx.UserAgent, hd.userAgent},
		{&tx.Referer, hd.referer}, {&tx.RequestContentType, hd.contentType}, {&tx.Authorization, hd.authorization}}
	tx.Method, _ = intern(method, commonMethods)
	tx.Version, _ = intern(version, commonVersions)
	n := 0
	for _, f := range fields {
		if *f.dst == "" {
			n += len(f.b)
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, f := range fields {
		if *f.dst == "" {
			sb.Write(f.b)
		}
	}
	all := sb.String()
	for _, f := range fields {
		if *f.dst == "" {
			*f.dst, all = all[:len(f.b)], all[len(f.b):]
		}
	}
}

func (c *Conn) response(h *half, start, fields []byte) {
	status, ok := parseStatusLine(start)
	if !ok {
		c.errors++
		h.st = stDead
		h.buf = nil
		return
	}
	var req *Transaction
	if len(c.pending) > 0 {
		req = c.pending[0]
	}
	if status >= 100 && status < 200 && status != 101 {
		// Interim response (100 Continue, 103 Early Hints): the real one
		// follows.
		return
	}
	var hd headers
	hd.parse(fields)
	tx := req
	if tx == nil {
		// A response without a request we saw: keep parsing to stay in
		// sync, but it yields no record.
		tx = &Transaction{}
	}
	tx.HasResponse = true
	tx.ResponseTime = c.now
	tx.Status = status
	tx.ContentType = internOrCopy(hd.contentType, commonContentTypes)
	h.tx = tx
	method := tx.Method
	switch {
	case status == 101 || (method == "CONNECT" && status >= 200 && status < 300):
		// The connection now carries another protocol.
		c.done(h, false)
		h.st = stTunnel
		c.req.st = stTunnel
	case method == "HEAD" || status == 204 || status == 304 || (status >= 100 && status < 200):
		c.done(h, false)
	case hd.chunked:
		h.st = stChunkSize
	case hd.hasLength:
		if hd.contentLength == 0 {
			c.done(h, false)
		} else {
			h.st, h.remaining = stBody, hd.contentLength
		}
	default:
		h.st = stUntilClose
	}
}

// done finishes the message in h.
func (c *Conn) done(h *half, fromClient bool) {
	tx := h.tx
	h.tx = nil
	h.st = stHeader
	h.remaining = 0
	if tx == nil {
		return
	}
	if fromClient {
		tx.reqDone = true
		c.maybeEmit(tx)
		return
	}
	c.finishResponse(tx)
}

func (c *Conn) finishResponse(tx *Transaction) {
	tx.respDone = true
	if len(c.pending) > 0 && c.pending[0] == tx {
		c.pending[0] = nil
		c.pending = c.pending[1:]
		c.maybeEmit(tx)
	}
}

// maybeEmit emits tx once both of its messages are complete and it is no
// longer waiting in the pending queue.
func (c *Conn) maybeEmit(tx *Transaction) {
	if !tx.reqDone || !tx.respDone || tx.placeholder {
		return
	}
	if !c.isPending(tx) {
		c.emit(tx)
	}
}

// splitLine returns the first line of b (without CRLF) and the rest.
func splitLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.TrimSuffix(b, []byte{'\r'}), nil
	}
	return bytes.TrimSuffix(b[:i], []byte{'\r'}), b[i+1:]
}

// ParseRequestLine splits "METHOD SP URI SP VERSION", accepting a missing
// URI or version (tshark and servers see "OPTIONS HTTP/1.1" as URI
// "HTTP/1.1", and "OPTIONS" alone as a request with an empty URI). The method
// must be a token (RFC 9110 5.6.2) of at most 32 characters.
func ParseRequestLine(line []byte) (method, uri, version string, ok bool) {
	m, u, v, ok := splitRequestLine(line)
	return string(m), string(u), string(v), ok
}

func splitRequestLine(line []byte) (method, uri, version []byte, ok bool) {
	m, rest, _ := bytes.Cut(line, []byte{' '})
	if len(m) == 0 || len(m) > 32 {
		return nil, nil, nil, false
	}
	for _, ch := range m {
		if !isTokenChar(ch) {
			return nil, nil, nil, false
		}
	}
	rest = bytes.TrimLeft(rest, " ")
	u, v, _ := bytes.Cut(rest, []byte{' '})
	return m, u, bytes.TrimSpace(v), true
}

// Values most requests and responses share: taken as they are instead of
// allocating a copy each time.
var (
	commonMethods      = []string{"GET", "POST", "HEAD", "PUT", "OPTIONS", "DELETE", "CONNECT"}
	commonVersions     = []string{"HTTP/1.1", "HTTP/1.0"}
	commonContentTypes = []string{"text/html", "text/html; charset=utf-8", "text/html; charset=UTF-8", "application/json",
		"text/plain", "text/css", "application/javascript", "image/png", "image/jpeg", "image/gif"}
)

// intern returns b as one of common when it is one, else "" and false.
func intern(b []byte, common []string) (string, bool) {
	for _, c := range common {
		if string(b) == c {
			return c, true
		}
	}
	return "", false
}

// internOrCopy returns b as a string, sharing a common value.
func internOrCopy(b []byte, common []string) string {
	if s, ok := intern(b, common); ok {
		return s
	}
	return string(b)
}

func parseStatusLine(line []byte) (int, bool) {
	if !bytes.HasPrefix(line, []byte("HTTP/")) {
		return 0, false
	}
	_, rest, _ := bytes.Cut(line, []byte{' '})
	rest = bytes.TrimLeft(rest, " ")
	if len(rest) < 3 {
		return 0, false
	}
	code := 0
	for _, ch := range rest[:3] {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		code = code*10 + int(ch-'0')
	}
	if len(rest) > 3 && rest[3] != ' ' && rest[3] != '\r' {
		return 0, false
	}
	return code, true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// headers holds the fields aclog reads; values alias the header block.
type headers struct {
	host, userAgent, referer, contentType []byte
	authorization                         []byte
	contentLength                         int64
	hasLength, chunked                    bool
}

func (hd *headers) parse(b []byte) {
	for len(b) > 0 {
		var line []byte
		line, b = splitLine(b)
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Host")):
			if hd.host == nil {
				hd.host = value
			}
		case bytes.EqualFold(name, []byte("User-Agent")):
			hd.userAgent = value
		case bytes.EqualFold(name, []byte("Referer")):
			hd.referer = value
		case bytes.EqualFold(name, []byte("Content-Type")):
			hd.contentType = value
		case bytes.EqualFold(name, []byte("Authorization")):
			hd.authorization = value
		case bytes.EqualFold(name, []byte("Content-Length")):
			// The first valid one wins; a smuggling-style second value is
			// ignored rather than trusted.
			if n, err := strconv.ParseInt(string(value), 10, 64); err == nil && n >= 0 && !hd.hasLength {
				hd.contentLength, hd.hasLength = n, true
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if bytes.Contains(bytes.ToLower(value), []byte("chunked")) {
				hd.chunked = true
			}
		}
	}
}

// ParseDatagram parses one request carried whole in a datagram, as SSDP
// (HTTP over UDP, port 1900) sends them. It reports false when the datagram
// is not a complete request.
func ParseDatagram(b []byte, ts time.Time) (*Transaction, bool) {
	var got *Transaction
	c := NewConn(func(tx *Transaction) {
		if got == nil {
			got = tx
		}
	})
	c.Data(true, b, ts)
	c.Close(ts)
	if got == nil || got.Incomplete {
		return nil, false
	}
	return got, true
}
