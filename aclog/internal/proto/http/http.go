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
//
// # Lifecycle
//
// A Conn follows one TCP connection from NewConn (or Reset, which readies a
// used Conn for the next connection) to Close:
//
//   - Data delivers the bytes of one direction in stream order, in any
//     pieces. The parser does not keep data after Data returns: what it
//     needs later it copies.
//   - Gap says n bytes of one direction were lost from the capture. The
//     transaction they fall in is marked Incomplete. Inside a body whose
//     end is still ahead they are counted and parsing goes on after them;
//     inside a header block what was buffered is dropped and parsing
//     restarts at the next byte; anywhere else that direction stops and
//     counts an error.
//   - Close ends the connection: a body delimited by the close is
//     complete, and every transaction still held is emitted (Incomplete if
//     it was cut short). After Close the Conn takes no more Data or Gap
//     until Reset.
//
// The emit func given to NewConn is called from Data, Gap and Close, once
// for each request seen, at the latest at Close; the Transaction it gets is
// valid only during the call, and the parser reuses it for a later request
// (its strings and RequestBody are not written again: a callee may keep
// those). Dead reports when no more transactions can
// come (both directions lost or tunnelled and none pending), so the caller
// may stop feeding the connection; it must still call Close.
//
// The files hold one concern each: conn.go the Conn and its request/response
// pairing, feed.go the per-direction state machine and body framing,
// message.go header blocks, startline.go request and status lines, and
// datagram.go requests carried whole in a UDP datagram (SSDP).
package http

import "time"

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
