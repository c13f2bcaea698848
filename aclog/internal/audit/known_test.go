package audit

import (
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/acstore/acstore/aclog/internal/proto/tls"
)

func pcap(rel string) string { return filepath.Join(pcapRoot, rel) }

// Exact values for records whose ground truth is known (the Zeek and Arkime
// expected files beside the captures).

func TestKnownHTTPGet(t *testing.T) {
	c, st := runFile(t, pcap("http/get.pcap"), DefaultConfig())
	if len(c.http) != 1 {
		t.Fatalf("got %d HTTP records, want 1", len(c.http))
	}
	want := HTTPRequest{
		Time:            c.http[0].Time,
		Client:          netip.MustParseAddrPort("141.142.228.5:59856"),
		Server:          netip.MustParseAddrPort("192.150.187.43:80"),
		Method:          "GET",
		Host:            "bro.org",
		URI:             "/download/CHANGES.bro-aux.txt",
		Version:         "HTTP/1.1",
		UserAgent:       "Wget/1.14 (darwin12.2.0)",
		HasResponse:     true,
		Status:          200,
		ContentType:     "text/plain; charset=UTF-8",
		ResponseBodyLen: 4705, // Zeek's response_body_len
	}
	if *c.http[0] != want {
		t.Errorf("got  %+v\nwant %+v", *c.http[0], want)
	}
	if len(c.sessions) != 1 {
		t.Fatalf("got %d sessions, want 1", len(c.sessions))
	}
	s := c.sessions[0]
	// tshark -z conv,tcp: 7 frames 610 bytes ->, 7 frames 5477 bytes <-.
	if s.Client != want.Client || s.Server != want.Server || s.ClientPackets != 7 || s.ClientBytes != 610 ||
		s.ServerPackets != 7 || s.ServerBytes != 5477 || s.Reason != EndFIN || s.App != "http" || s.Proto != TCP {
		t.Errorf("session %+v", *s)
	}
	if got := s.End.Sub(s.Start).Seconds(); got < 0.2116 || got > 0.2117 {
		t.Errorf("session duration %v, tshark says 0.2116 s", got)
	}
	if st.Malformed != 0 || st.TCPGaps != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestKnownHTTPPipelinedAndPost(t *testing.T) {
	c, _ := runFile(t, pcap("http/pipelined-requests.pcap"), DefaultConfig())
	var uris []string
	for _, h := range c.http {
		uris = append(uris, h.URI)
		if h.Host != "www.mozilla.org" || h.Status != 200 || !h.HasResponse || h.ResponseBodyLen == 0 {
			t.Errorf("pipelined record %+v", *h)
		}
	}
	// Each request paired in order with its own response (Zeek's log).
	want := []string{"/style/enhanced.css", "/script/urchin.js", "/images/template/screen/bullet_utility.png",
		"/images/template/screen/key-point-top.png", "/projects/calendar/images/header-sunbird.png"}
	if !slices.Equal(uris, want) {
		t.Errorf("URIs %q, want %q", uris, want)
	}
	if c.http[0].ContentType != "text/css" || c.http[0].ResponseBodyLen != 946 {
		t.Errorf("first pipelined response: %q %d", c.http[0].ContentType, c.http[0].ResponseBodyLen)
	}

	c, _ = runFile(t, pcap("http/post.pcap"), DefaultConfig())
	if len(c.http) != 1 {
		t.Fatalf("post: %d records", len(c.http))
	}
	h := c.http[0]
	if h.Method != "POST" || h.Host != "httpbin.org" || h.URI != "/post" || h.RequestBodyLen != 11 ||
		h.ResponseBodyLen != 366 || h.RequestContentType != "application/x-www-form-urlencoded" || h.ContentType != "application/json" {
		t.Errorf("post record %+v", *h)
	}

	// A request body without a response (the capture stops): 767 B, as Zeek.
	c, _ = runFile(t, pcap("http/multipart-form-data.pcap"), DefaultConfig())
	if len(c.http) != 1 || c.http[0].RequestBodyLen != 767 || c.http[0].HasResponse || c.http[0].Method != "POST" {
		t.Errorf("multipart: %+v", c.http)
	}
}

func TestKnownLinkTypes(t *testing.T) {
	// Raw IPv4 link type.
	c, _ := runFile(t, pcap("http/basic-auth-with-colon.pcap"), DefaultConfig())
	if len(c.http) != 1 || c.http[0].UserAgent != "python-requests/2.31.0" || c.http[0].Status != 200 {
		t.Errorf("raw IPv4: %+v", c.http)
	}
	// BSD loopback (NULL) link type, IPv6, TLS 1.2 with ALPN h2.
	c, _ = runFile(t, pcap("tls/tls-alpn-h2.pcap"), DefaultConfig())
	if len(c.tls) != 1 {
		t.Fatalf("loopback: %d TLS records", len(c.tls))
	}
	h := c.tls[0]
	if h.SNI != "www.cloudflare.com" || h.ServerALPN != "h2" || !slices.Equal(h.ALPN, []string{"h2", "http/1.1"}) ||
		h.Version != 0x0303 || h.CertSubject != "cloudflare.com" || h.CertIssuer != "DigiCert ECC Extended Validation Server CA" {
		t.Errorf("loopback TLS %+v", *h)
	}
	// pcapng.
	c, _ = runFile(t, pcap("http/cooper-grill-dvwa.pcapng"), DefaultConfig())
	if len(c.http) != 3 || c.http[0].URI != "/dvwa/vulnerabilities/sqli/?id=1%27+OR+%271%27%3D%271&Submit=Submit" {
		t.Errorf("pcapng: %+v", c.http)
	}
}

func TestKnownTLS(t *testing.T) {
	tests := []struct {
		file                    string
		sni                     string
		clientVersion, version  uint16
		cipher                  string
		certSubject, certIssuer string
	}{
		{"tls/tls-conn-with-extensions.pcap", "ssl.gstatic.com", 0x0301, 0x0301, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "*.gstatic.com", "Google Internet Authority"},
		{"tls/tls1.2.pcap", "", 0x0303, 0x0303, "TLS_RSA_WITH_RC4_128_MD5", "*.taleo.net", "COMODO High-Assurance Secure Server CA"},
		{"tls/tls1_1.pcap", "", 0x0302, 0x0302, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "*.google.com", "Google Internet Authority G2"},
		// TLS 1.3: the certificate is encrypted.
		{"tls/chrome-1250-tls-x25519-kyber.pcap", "lh3.google.com", 0x0304, 0x0304, "TLS_AES_128_GCM_SHA256", "", ""},
		// ClientHello split over several segments.
		{"tls/tls-split-client-hello.pcap", "clients2.google.com", 0x0304, 0x0304, "TLS_AES_128_GCM_SHA256", "", ""},
		// TLS 1.3 draft 18.
		{"tls/tls13.pcap", "blog.cloudflare.com", 0x7f12, 0x7f12, "0x7106", "", ""},
	}
	for _, tt := range tests {
		c, _ := runFile(t, pcap(tt.file), DefaultConfig())
		if len(c.tls) != 1 {
			t.Errorf("%s: %d TLS records", tt.file, len(c.tls))
			continue
		}
		h := c.tls[0]
		if h.SNI != tt.sni || h.ClientVersion != tt.clientVersion || h.Version != tt.version ||
			tls.CipherSuiteString(h.CipherSuite) != tt.cipher || h.CertSubject != tt.certSubject || h.CertIssuer != tt.certIssuer {
			t.Errorf("%s: got %+v (cipher %s)", tt.file, *h, tls.CipherSuiteString(h.CipherSuite))
		}
	}
}

func TestKnownDNS(t *testing.T) {
	c, _ := runFile(t, pcap("dns/dns-udp.pcap"), DefaultConfig())
	if len(c.dns) != 3 {
		t.Fatalf("dns-udp: %d records", len(c.dns))
	}
	q := c.dns[0]
	want := []DNSAnswer{
		{Name: "www.github.com", Type: 5, TTL: 1980, Data: "github.com"},
		{Name: "github.com", Type: 1, TTL: 4, Data: "192.30.252.128"},
	}
	if q.Name != "www.github.com" || q.QType != 1 || !q.HasQuery || !q.HasResponse || q.RCode != 0 ||
		!slices.Equal(q.Answers, want) || q.Server != netip.MustParseAddrPort("10.2.95.39:53") {
		t.Errorf("dns-udp first record %+v", *q)
	}
	// The PTR/ANY query got no response.
	if last := c.dns[2]; last.Name != "10.100.10.10.in-addr.arpa" || last.QType != 255 || last.HasResponse {
		t.Errorf("dns-udp unanswered query %+v", *last)
	}

	// A response without its query still yields a record (Zeek: 8 A answers).
	c, _ = runFile(t, pcap("dns/dns53.pcap"), DefaultConfig())
	if len(c.dns) != 1 || c.dns[0].HasQuery || c.dns[0].Name != "us.v27.distributed.net" || len(c.dns[0].Answers) != 8 ||
		c.dns[0].Client != netip.MustParseAddrPort("10.20.1.31:53") {
		t.Errorf("dns53: %+v", c.dns)
	}

	// DNS over TCP.
	c, _ = runFile(t, pcap("dns/dns-tcp.pcap"), DefaultConfig())
	if len(c.dns) != 2 || c.dns[0].Name != "google.com" || c.dns[1].Name != "aol.com" || c.dns[1].Transport != TCP ||
		len(c.dns[1].Answers) != 5 || c.dns[1].Answers[0].Data != "205.188.100.58" {
		t.Errorf("dns-tcp: %+v", c.dns)
	}

	// A response in three IPv6 fragments: the retransmitted query is
	// answered by the reassembled datagram (Zeek: 3 rows).
	c, st := runFile(t, pcap("dns/ipv6-fragmented-dns.pcap"), DefaultConfig())
	if len(c.dns) != 3 || c.dns[1].HasResponse || !c.dns[2].HasResponse || c.dns[2].Name != "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu" ||
		len(c.dns[2].Answers) == 0 || c.dns[2].Answers[0].Type != 16 {
		t.Errorf("ipv6 fragmented: %+v", c.dns)
	}
	if st.Reassembled != 1 || st.FragmentsDropped != 1 {
		t.Errorf("ipv6 fragments: reassembled %d dropped %d, want 1 and 1", st.Reassembled, st.FragmentsDropped)
	}

	// Duplicate response: the second one is a response-only record (Zeek: 2 rows).
	c, _ = runFile(t, pcap("dns/dns-two-responses.pcap"), DefaultConfig())
	if len(c.dns) != 2 || !c.dns[0].HasQuery || c.dns[1].HasQuery || c.dns[1].Answers[0].Data != "WWW-CMU.ANDREW.cmu.edu" {
		t.Errorf("two responses: %+v", c.dns)
	}
}
