package http

import (
	"bytes"
	"strconv"
	"strings"
)

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
	tx := c.newTransaction()
	tx.RequestTime = c.now
	tx.setRequestStrings(m, u, v, &hd)
	if len(c.pending) >= MaxPending {
		// The server is not answering; do not hold requests forever.
		old := c.popPending()
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

// headers holds the fields aclog reads; values alias the header block.
type headers struct {
	host, userAgent, referer, contentType []byte
	authorization                         []byte
	contentLength                         int64
	hasLength, chunked                    bool
}

// keptLength reports whether a field name of n bytes may be one parse
// reads (Host, Referer, User-Agent, Content-Type, Authorization,
// Content-Length, Transfer-Encoding): the others (Accept, Cookie, ...)
// are skipped without seven comparisons each.
func keptLength(n int) bool {
	switch n {
	case 4, 7, 10, 12, 13, 14, 17:
		return true
	}
	return false
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
		if !keptLength(len(name)) {
			continue
		}
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
