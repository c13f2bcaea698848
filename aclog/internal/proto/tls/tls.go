// Package tls reads the plaintext start of a TLS connection: the ClientHello
// (server name, offered version, ALPN), the ServerHello (negotiated version
// and cipher suite) and, for TLS 1.2 and older where it is still sent in
// clear, the server's certificate (subject and issuer common names).
//
// Records and handshake messages may be split across TCP segments and across
// records (a ClientHello with post-quantum key shares spans several
// segments); the parser reassembles both layers with fixed bounds and stops
// reading as soon as the rest of the connection is encrypted.
package tls

import (
	cryptotls "crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
)

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

// VersionString names a protocol version ("TLSv1.2", "SSLv3", "0x7f12").
func VersionString(v uint16) string {
	switch v {
	case 0:
		return ""
	case 0x0300:
		return "SSLv3"
	case 0x0301:
		return "TLSv1.0"
	case 0x0302:
		return "TLSv1.1"
	case 0x0303:
		return "TLSv1.2"
	case 0x0304:
		return "TLSv1.3"
	}
	if v>>8 == 0x7f {
		return fmt.Sprintf("TLSv1.3-draft%d", v&0xff)
	}
	return fmt.Sprintf("0x%04x", v)
}

// CipherSuiteString names a cipher suite (IANA name, or 0x hex).
func CipherSuiteString(id uint16) string {
	if id == 0 {
		return ""
	}
	if n, ok := legacySuites[id]; ok {
		return n
	}
	return cryptotls.CipherSuiteName(id)
}

// legacySuites names suites crypto/tls does not know but old clients and
// servers on audited networks still negotiate.
var legacySuites = map[uint16]string{
	0x0004: "TLS_RSA_WITH_RC4_128_MD5",
	0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
	0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
	0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
	0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
	0x006b: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
	0x009d: "TLS_RSA_WITH_AES_256_GCM_SHA384",
	0x009e: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
	0x009f: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
	0xc024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
	0xc028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
}

// Record and message types.
const (
	recChangeCipherSpec = 20
	recAlert            = 21
	recHandshake        = 22
	recApplicationData  = 23
	recHeartbeat        = 24

	hsClientHello     = 1
	hsServerHello     = 2
	hsCertificate     = 11
	hsServerHelloDone = 14
)

// Bounds.
const (
	maxRecord       = 5 + 16384 + 2048 // header + TLSCiphertext limit
	maxHandshakeMsg = 256 << 10        // a long certificate chain
)

type direction struct {
	rec       []byte // partial record
	hs        []byte // partial handshake message(s)
	encrypted bool   // after ChangeCipherSpec or application data
	dead      bool
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

// Data feeds bytes from one direction.
func (c *Conn) Data(fromClient bool, data []byte) {
	d := &c.dir[dirIndex(fromClient)]
	for len(data) > 0 && !d.dead && !d.encrypted && !c.done {
		var rec []byte
		if len(d.rec) == 0 && len(data) >= 5 {
			n := 5 + int(binary.BigEndian.Uint16(data[3:5]))
			if len(data) >= n {
				rec, data = data[:n], data[n:]
			}
		}
		if rec == nil {
			// Accumulate: first the header, then the rest of the record.
			need := 5
			if len(d.rec) >= 5 {
				need = 5 + int(binary.BigEndian.Uint16(d.rec[3:5]))
			}
			k := min(need-len(d.rec), len(data))
			d.rec = append(d.rec, data[:k]...)
			data = data[k:]
			if len(d.rec) < 5 {
				continue
			}
			if !c.checkHeader(d, d.rec) {
				return
			}
			// A zero-length record is complete with its header alone.
			if len(d.rec) < 5+int(binary.BigEndian.Uint16(d.rec[3:5])) {
				continue
			}
			rec = d.rec
		}
		if !c.checkHeader(d, rec) {
			return
		}
		c.record(d, fromClient, rec[0], rec[5:])
		d.rec = d.rec[:0]
	}
}

func (c *Conn) checkHeader(d *direction, h []byte) bool {
	n := int(binary.BigEndian.Uint16(h[3:5]))
	if h[1] != 3 || h[0] < recChangeCipherSpec || h[0] > recHeartbeat || 5+n > maxRecord {
		c.errors++
		d.dead = true
		d.rec, d.hs = nil, nil
		return false
	}
	return true
}

func (c *Conn) record(d *direction, fromClient bool, typ byte, body []byte) {
	switch typ {
	case recChangeCipherSpec, recApplicationData:
		// From here on this direction is encrypted. The server's CCS or
		// first encrypted record ends what a passive observer can see.
		d.encrypted = true
		d.rec, d.hs = nil, nil
		if !fromClient {
			c.done = true
		}
	case recHandshake:
		if len(d.hs)+len(body) > maxHandshakeMsg {
			c.errors++
			d.dead = true
			d.hs = nil
			return
		}
		d.hs = append(d.hs, body...)
		c.messages(d, fromClient)
	}
}

// messages parses every complete handshake message in d.hs.
func (c *Conn) messages(d *direction, fromClient bool) {
	b := d.hs
	for len(b) >= 4 && !d.dead {
		n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if n > maxHandshakeMsg {
			c.errors++
			d.dead = true
			break
		}
		if len(b) < 4+n {
			break
		}
		c.message(fromClient, b[0], b[4:4+n])
		b = b[4+n:]
		if c.done {
			break
		}
	}
	// Keep the incomplete tail at the front of the buffer.
	d.hs = append(d.hs[:0], b...)
}

func (c *Conn) message(fromClient bool, typ byte, m []byte) {
	var err error
	switch {
	case fromClient && typ == hsClientHello:
		err = c.clientHello(m)
	case !fromClient && typ == hsServerHello:
		err = c.serverHello(m)
		if err == nil && c.hs.Version >= 0x0304 {
			// TLS 1.3 encrypts everything after the ServerHello.
			c.done = true
		}
	case !fromClient && typ == hsCertificate:
		c.certificate(m)
	case !fromClient && typ == hsServerHelloDone:
		c.done = true
	}
	if err != nil {
		c.errors++
	}
}

// reader is a bounds-checked cursor over a handshake message.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n > len(r.b) || n < 0 {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() int {
	v := r.take(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (r *reader) u16() int {
	v := r.take(2)
	if v == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(v))
}

func (r *reader) u24() int {
	v := r.take(3)
	if v == nil {
		return 0
	}
	return int(v[0])<<16 | int(v[1])<<8 | int(v[2])
}

func errMalformed(what string) error { return fmt.Errorf("tls: malformed %s", what) }

func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func (c *Conn) clientHello(m []byte) error {
	r := reader{b: m}
	legacy := uint16(r.u16())
	r.take(32)      // random
	r.take(r.u8())  // session id
	r.take(r.u16()) // cipher suites
	r.take(r.u8())  // compression methods
	if r.bad {
		return errMalformed("ClientHello")
	}
	c.hs.ClientHellos++
	if c.hs.ClientHello {
		// A second ClientHello (after HelloRetryRequest) repeats the
		// first; keep the first.
		return nil
	}
	c.hs.ClientHello = true
	c.hs.ClientVersion = legacy
	if len(r.b) == 0 {
		return nil // no extensions (SSLv3-era clients)
	}
	exts := reader{b: r.take(r.u16())}
	for len(exts.b) >= 4 && !exts.bad {
		typ := exts.u16()
		e := reader{b: exts.take(exts.u16())}
		switch typ {
		case 0: // server_name
			list := reader{b: e.take(e.u16())}
			for len(list.b) > 0 && !list.bad {
				kind := list.u8()
				name := list.take(list.u16())
				if kind == 0 && !list.bad && c.hs.SNI == "" {
					c.hs.SNI = string(name)
				}
			}
		case 16: // application_layer_protocol_negotiation
			list := reader{b: e.take(e.u16())}
			for len(list.b) > 0 && !list.bad {
				p := list.take(list.u8())
				if !list.bad && len(c.hs.ALPN) < 16 {
					c.hs.ALPN = append(c.hs.ALPN, string(p))
				}
			}
		case 43: // supported_versions
			list := reader{b: e.take(e.u8())}
			for len(list.b) >= 2 {
				v := uint16(list.u16())
				if !isGREASE(v) && v > c.hs.ClientVersion && v != 0x7f00 {
					c.hs.ClientVersion = v
				}
			}
		}
	}
	if exts.bad {
		return errMalformed("ClientHello extensions")
	}
	return nil
}

func (c *Conn) serverHello(m []byte) error {
	r := reader{b: m}
	version := uint16(r.u16())
	r.take(32)
	r.take(r.u8())
	suite := uint16(r.u16())
	r.take(1)
	if r.bad {
		return errMalformed("ServerHello")
	}
	c.hs.ServerHello = true
	c.hs.Version = version
	c.hs.CipherSuite = suite
	if len(r.b) == 0 {
		return nil
	}
	exts := reader{b: r.take(r.u16())}
	for len(exts.b) >= 4 && !exts.bad {
		typ := exts.u16()
		e := reader{b: exts.take(exts.u16())}
		switch typ {
		case 43:
			if v := uint16(e.u16()); !e.bad {
				c.hs.Version = v
			}
		case 16:
			list := reader{b: e.take(e.u16())}
			if p := list.take(list.u8()); !list.bad {
				c.hs.ServerALPN = string(p)
			}
		}
	}
	return nil
}

func (c *Conn) certificate(m []byte) {
	if c.hs.Version >= 0x0304 || c.hs.CertSeen {
		return
	}
	r := reader{b: m}
	list := reader{b: r.take(r.u24())}
	der := list.take(list.u24())
	if r.bad || list.bad || len(der) == 0 {
		c.errors++
		return
	}
	c.hs.CertSeen = true
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		// Old or odd certificates that Go refuses still count as seen.
		c.errors++
		return
	}
	c.hs.CertSubject = cert.Subject.CommonName
	c.hs.CertIssuer = cert.Issuer.CommonName
}
