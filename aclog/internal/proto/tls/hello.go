package tls

import (
	"crypto/x509"
	"encoding/binary"
	"fmt"
)

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
