// Package tls reads the plaintext start of a TLS connection: the ClientHello
// (server name, offered version, ALPN), the ServerHello (negotiated version
// and cipher suite) and, for TLS 1.2 and older where it is still sent in
// clear, the server's certificate (subject and issuer common names).
//
// Records and handshake messages may be split across TCP segments and across
// records (a ClientHello with post-quantum key shares spans several
// segments); the parser reassembles both layers with fixed bounds and stops
// reading as soon as the rest of the connection is encrypted.
//
// # Lifecycle
//
// A Conn follows one TCP connection from NewConn:
//
//   - Data delivers the bytes of one direction in stream order, in any
//     pieces. The parser does not keep data after Data returns: a partial
//     record or handshake message is copied into its own bounded buffer.
//   - Gap says bytes of one direction were lost: that direction is not
//     followed any more (records cannot be found again in the middle of a
//     stream).
//   - Handshake may be read at any time; it grows as messages arrive.
//   - Done reports that nothing more can be learned (the server's part of
//     the handshake in clear is over: ServerHelloDone, a TLS 1.3
//     ServerHello, or its first encrypted record; or both directions were
//     lost or malformed): the caller
//     stops feeding the Conn and takes the Handshake. There is no Close;
//     a Conn holds nothing that needs releasing.
//
// The files hold one concern each: tls.go the Conn and its API, record.go the
// record and handshake-message layers, hello.go the ClientHello, ServerHello
// and Certificate messages, names.go the names of versions and cipher suites.
package tls

// Handshake is what the clear part of a TLS handshake tells.
type Handshake struct {
	ClientHello bool
	SNI         string   // server_name (host_name) from the ClientHello
	ALPN        []string // protocols the client offered
	// ClientVersion is the highest version the client offered: from the
	// supported_versions extension when present (TLS 1.3 clients), else the
	// ClientHello's legacy version field.
	ClientVersion uint16
	ClientHellos  int // more than one after a HelloRetryRequest

	ServerHello bool
	Version     uint16 // negotiated, from supported_versions when present
	CipherSuite uint16
	ServerALPN  string // the protocol the server chose, when sent in clear

	// Certificate fields come from the first (leaf) certificate of the
	// server's Certificate message, which only TLS 1.2 and older send in
	// clear.
	CertSeen    bool
	CertSubject string // subject common name
	CertIssuer  string // issuer common name
}

// Conn parses one connection.
type Conn struct {
	hs     Handshake
	dir    [2]direction // 0 client, 1 server
	done   bool
	errors int
}

// NewConn returns a parser for one connection.
func NewConn() *Conn { return &Conn{} }

// Handshake returns what was learned so far. The Conn keeps ownership; copy
// it before feeding more data.
func (c *Conn) Handshake() *Handshake { return &c.hs }

// Done reports that nothing more can be learned: the server side is
// encrypted, or both sides stopped being parseable.
func (c *Conn) Done() bool {
	return c.done || (c.dir[0].dead && c.dir[1].dead)
}

// Errors counts malformed records and messages.
func (c *Conn) Errors() int { return c.errors }

// LooksLikeTLS reports whether b starts like a TLS handshake record. It needs
// three bytes.
func LooksLikeTLS(b []byte) bool {
	return len(b) >= 3 && b[0] == recHandshake && b[1] == 3 && b[2] <= 4
}

// Gap tells the parser bytes of one direction were lost: that direction
// cannot be followed any more.
func (c *Conn) Gap(fromClient bool) {
	c.dir[dirIndex(fromClient)].dead = true
}

func dirIndex(fromClient bool) int {
	if fromClient {
		return 0
	}
	return 1
}
