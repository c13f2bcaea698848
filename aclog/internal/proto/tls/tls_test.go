package tls

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/acstore/acstore/aclog/internal/pcaptest"
)

const pcapRoot = "../../../testdata/pcaps"

// parseCapture feeds the first TCP connection on port 443 of a capture, in
// segments as captured (optionally re-cut into pieces of step bytes).
func parseCapture(t testing.TB, file string, step int) *Conn {
	c := NewConn()
	conn := -1
	for _, s := range pcaptest.Segments(t, filepath.Join(pcapRoot, file)) {
		if s.UDP || (s.Src.Port() != 443 && s.Dst.Port() != 443) {
			continue
		}
		if conn < 0 {
			conn = s.Conn
		}
		if s.Conn != conn {
			continue
		}
		d := s.Data
		for len(d) > 0 {
			n := min(step, len(d))
			c.Data(s.Dst.Port() == 443, d[:n])
			d = d[n:]
		}
	}
	return c
}

func TestRealHandshakes(t *testing.T) {
	tests := []struct {
		file string
		want Handshake
		done bool
	}{
		{"tls/tls-conn-with-extensions.pcap", Handshake{
			ClientHello: true, SNI: "ssl.gstatic.com", ClientVersion: 0x0301, ClientHellos: 1,
			ServerHello: true, Version: 0x0301, CipherSuite: 0xc011,
			CertSeen: true, CertSubject: "*.gstatic.com", CertIssuer: "Google Internet Authority",
		}, true},
		{"tls/tls1.2.pcap", Handshake{
			ClientHello: true, ClientVersion: 0x0303, ClientHellos: 1,
			ServerHello: true, Version: 0x0303, CipherSuite: 0x0004,
			CertSeen: true, CertSubject: "*.taleo.net", CertIssuer: "COMODO High-Assurance Secure Server CA",
		}, true},
		{"tls/tls-alpn-h2.pcap", Handshake{
			ClientHello: true, SNI: "www.cloudflare.com", ALPN: []string{"h2", "http/1.1"}, ClientVersion: 0x0303, ClientHellos: 1,
			ServerHello: true, Version: 0x0303, CipherSuite: 0xcca9, ServerALPN: "h2",
			CertSeen: true, CertSubject: "cloudflare.com", CertIssuer: "DigiCert ECC Extended Validation Server CA",
		}, true},
		{"tls/tls-split-client-hello.pcap", Handshake{
			ClientHello: true, SNI: "clients2.google.com", ALPN: []string{"h2", "http/1.1"}, ClientVersion: 0x0304, ClientHellos: 1,
			ServerHello: true, Version: 0x0304, CipherSuite: 0x1301,
		}, true},
		{"tls/chrome-1250-tls-x25519-kyber.pcap", Handshake{
			ClientHello: true, SNI: "lh3.google.com", ALPN: []string{"h2", "http/1.1"}, ClientVersion: 0x0304, ClientHellos: 1,
			ServerHello: true, Version: 0x0304, CipherSuite: 0x1301,
		}, true},
	}
	for _, tt := range tests {
		// As captured, byte by byte, and in 100-byte pieces: records and
		// handshake messages must be reassembled the same way.
		for _, step := range []int{1 << 20, 1, 100} {
			c := parseCapture(t, tt.file, step)
			got := *c.Handshake()
			if !equal(got, tt.want) || c.Done() != tt.done || c.Errors() != 0 {
				t.Errorf("%s (step %d):\n got %+v (done %v, %d errors)\nwant %+v", tt.file, step, got, c.Done(), c.Errors(), tt.want)
			}
		}
	}
}

func equal(a, b Handshake) bool {
	return slices.Equal(a.ALPN, b.ALPN) && a.ClientHello == b.ClientHello && a.SNI == b.SNI &&
		a.ClientVersion == b.ClientVersion && a.ClientHellos == b.ClientHellos && a.ServerHello == b.ServerHello &&
		a.Version == b.Version && a.CipherSuite == b.CipherSuite && a.ServerALPN == b.ServerALPN &&
		a.CertSeen == b.CertSeen && a.CertSubject == b.CertSubject && a.CertIssuer == b.CertIssuer
}

func TestNotTLS(t *testing.T) {
	c := NewConn()
	c.Data(true, []byte("GET / HTTP/1.1\r\n\r\n"))
	if c.Errors() != 1 || c.Handshake().ClientHello {
		t.Errorf("HTTP taken for TLS: %+v", *c.Handshake())
	}
	c.Data(false, []byte{0x16, 0x03, 0x03, 0xff, 0xff}) // record over the limit
	if !c.Done() || c.Errors() != 2 {
		t.Errorf("oversize record: done %v errors %d", c.Done(), c.Errors())
	}
	if LooksLikeTLS([]byte("GET")) || !LooksLikeTLS([]byte{0x16, 3, 1}) {
		t.Error("LooksLikeTLS")
	}
}

func FuzzConn(f *testing.F) {
	for _, file := range []string{"tls/tls-conn-with-extensions.pcap", "tls/tls-split-client-hello.pcap", "tls/tls1.2.pcap"} {
		for i, s := range pcaptest.Segments(f, filepath.Join(pcapRoot, file)) {
			if i < 12 {
				f.Add(s.Data, s.Dst.Port() == 443, uint16(i*37))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, fromClient bool, cut uint16) {
		c := NewConn()
		k := int(cut) % (len(data) + 1)
		c.Data(fromClient, data[:k])
		c.Data(fromClient, data[k:])
		c.Data(!fromClient, data)
		h := c.Handshake()
		if len(h.ALPN) > 16 || len(h.SNI) > 1<<16 {
			t.Fatalf("unbounded result %+v", *h)
		}
		for _, d := range c.dir {
			if len(d.rec) > maxRecord || len(d.hs) > maxHandshakeMsg {
				t.Fatalf("buffer beyond bound: %d %d", len(d.rec), len(d.hs))
			}
		}
	})
}
