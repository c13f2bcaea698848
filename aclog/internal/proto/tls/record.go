package tls

import "encoding/binary"

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
