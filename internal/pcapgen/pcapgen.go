// Package pcapgen writes synthetic but well-formed captures for benchmarks
// and load tests: many interleaved sessions of HTTP/1.1 keep-alive, DNS over
// UDP, and TLS 1.3 (ClientHello with SNI and ALPN, ServerHello, encrypted
// records), or, in mail mode, SMTP sessions carrying MIME messages with
// attachments, with realistic sizes (1448-byte segments, ACKs, handshakes and
// FINs), deterministic for a seed, and fast enough to write millions of
// packets in seconds.
//
// Real captures are what the parsers are tested on; this is what the
// engine's throughput is measured on.
package pcapgen

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Config describes a capture to generate.
type Config struct {
	Seed    uint64
	Packets int // generation stops starting sessions at this many packets, then finishes the open ones
	// Concurrent is how many sessions are interleaved at once (default 64).
	Concurrent int
	Start      time.Time // first packet time (default 2026-01-01 UTC)
	// Mail writes mail-heavy traffic instead: SMTP sessions each sending
	// one or two MIME messages (a quoted-printable text part and a base64
	// attachment of 4-200 KB), with DNS lookups between them.
	Mail bool
}

// Stats says what was written, so tests can check what a parser found.
type Stats struct {
	Packets      int
	Bytes        int64 // frame bytes
	HTTPSessions int
	HTTPRequests int
	DNSQueries   int
	TLSSessions  int // each with one ClientHello carrying an SNI
	SMTPSessions int
	Mails        int // messages sent over SMTP
	Attachments  int
	MailBytes    int64 // bytes of the messages (DATA), as sent
}

const (
	mss     = 1448
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

type seg struct {
	fromClient bool
	flags      uint8
	payload    []byte
}

type flow struct {
	udp            bool
	client, server [4]byte
	cport, sport   uint16
	cseq, sseq     uint32
	segs           []seg
	next           int
}

type generator struct {
	rng    *rand.Rand
	w      *bufio.Writer
	now    time.Time
	frame  []byte
	filler []byte // random bytes sliced for bodies and ciphertext
	stats  Stats
	ipID   uint16
	nextIP uint32
	hosts  []string
	mail   bool
}

// newGenerator seeds a generator for w and writes the pcap file header.
func newGenerator(w io.Writer, seed uint64) (*generator, error) {
	g := &generator{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		w:      bufio.NewWriterSize(w, 1<<20),
		frame:  make([]byte, 0, 14+20+20+mss),
		filler: make([]byte, 64<<10),
	}
	for i := range g.filler {
		g.filler[i] = byte(g.rng.Uint32())
	}
	for i := range 200 {
		g.hosts = append(g.hosts, fmt.Sprintf("www.site%d.example.com", i))
	}
	return g, g.header()
}

// Write writes a classic pcap (Ethernet, microsecond timestamps) to w.
func Write(w io.Writer, cfg Config) (Stats, error) {
	if cfg.Packets <= 0 {
		return Stats{}, fmt.Errorf("pcapgen: packets must be positive, got %d", cfg.Packets)
	}
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = 64
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	g, err := newGenerator(w, cfg.Seed)
	if err != nil {
		return g.stats, err
	}
	g.now, g.mail = cfg.Start, cfg.Mail
	active := make([]*flow, 0, cfg.Concurrent)
	for {
		for len(active) < cfg.Concurrent && g.stats.Packets < cfg.Packets {
			active = append(active, g.newFlow())
		}
		if len(active) == 0 {
			break
		}
		i := g.rng.IntN(len(active))
		f := active[i]
		g.now = g.now.Add(time.Duration(5+g.rng.IntN(200)) * time.Microsecond)
		if err := g.emit(f, f.segs[f.next]); err != nil {
			return g.stats, err
		}
		f.next++
		if f.next == len(f.segs) {
			active[i] = active[len(active)-1]
			active = active[:len(active)-1]
		}
	}
	if err := g.w.Flush(); err != nil {
		return g.stats, fmt.Errorf("pcapgen: %w", err)
	}
	return g.stats, nil
}

func (g *generator) addr(base uint32) [4]byte {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], base)
	return a
}

func (g *generator) newFlow() *flow {
	g.nextIP++
	mail := g.mail
	f := &flow{
		client: g.addr(0x0a000000 | (g.nextIP % 4000)), // 10.0.x.y: 4,000 users
		server: g.addr(0xc6120000 | uint32(g.rng.IntN(1000))),
		cport:  uint16(1024 + g.rng.IntN(60000)),
		cseq:   g.rng.Uint32(),
		sseq:   g.rng.Uint32(),
	}
	switch r := g.rng.IntN(10); {
	case mail && r < 8:
		f.sport = 25
		g.smtpFlow(f)
	case mail:
		f.sport = 53
		f.udp = true
		g.dnsFlow(f)
	case r < 4:
		f.sport = 80
		g.httpFlow(f)
	case r < 7:
		f.sport = 53
		f.udp = true
		g.dnsFlow(f)
	default:
		f.sport = 443
		g.tlsFlow(f)
	}
	return f
}

func (g *generator) body(n int) []byte {
	off := g.rng.IntN(len(g.filler) - mss)
	return g.filler[off : off+min(n, mss)]
}

// handshake and teardown around a TCP exchange.
func (f *flow) open() {
	f.segs = append(f.segs, seg{true, flagSYN, nil}, seg{false, flagSYN | flagACK, nil}, seg{true, flagACK, nil})
}
func (f *flow) close() {
	f.segs = append(f.segs, seg{true, flagFIN | flagACK, nil}, seg{false, flagFIN | flagACK, nil}, seg{true, flagACK, nil})
}

// send splits data into MSS segments, with an ACK from the peer every
// second segment.
func (f *flow) send(fromClient bool, data []byte) {
	for n := 0; len(data) > 0; n++ {
		k := min(len(data), mss)
		flags := uint8(flagACK)
		if k == len(data) {
			flags |= flagPSH
		}
		f.segs = append(f.segs, seg{fromClient, flags, data[:k]})
		data = data[k:]
		if n%2 == 1 || len(data) == 0 {
			f.segs = append(f.segs, seg{!fromClient, flagACK, nil})
		}
	}
}

func (g *generator) httpFlow(f *flow) {
	g.stats.HTTPSessions++
	f.open()
	host := g.hosts[g.rng.IntN(len(g.hosts))]
	for range 1 + g.rng.IntN(5) {
		g.stats.HTTPRequests++
		req := fmt.Appendf(nil, "GET /static/%d/page-%d.html?session=%x HTTP/1.1\r\nHost: %s\r\n"+
			"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n"+
			"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: zh-CN,zh;q=0.9\r\n"+
			"Referer: http://%s/\r\nConnection: keep-alive\r\n\r\n", g.rng.IntN(100), g.rng.IntN(10000), g.rng.Uint64(), host, host)
		f.send(true, req)
		// Response sizes: mostly small objects, some large ones.
		size := 200 + g.rng.IntN(4000)
		if g.rng.IntN(8) == 0 {
			size = 10000 + g.rng.IntN(90000)
		}
		resp := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n", size)
		for size > 0 {
			c := g.body(size)
			resp = append(resp, c...)
			size -= len(c)
		}
		f.send(false, resp)
	}
	f.close()
}

// smtpFlow is one SMTP session: greeting, EHLO, then one or two messages
// (MAIL FROM, RCPT TO, DATA with a MIME message), QUIT.
func (g *generator) smtpFlow(f *flow) {
	g.stats.SMTPSessions++
	f.open()
	f.send(false, []byte("220 mx.example.com ESMTP ready\r\n"))
	f.send(true, fmt.Appendf(nil, "EHLO pc%d.corp.example\r\n", g.nextIP%4000))
	f.send(false, []byte("250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250 8BITMIME\r\n"))
	for range 1 + g.rng.IntN(2) {
		g.stats.Mails++
		g.stats.Attachments++
		from := fmt.Sprintf("user%d@corp.example", g.rng.IntN(4000))
		rcpts := 1 + g.rng.IntN(3)
		cmd := fmt.Appendf(nil, "MAIL FROM:<%s>\r\n", from)
		for i := range rcpts {
			cmd = fmt.Appendf(cmd, "RCPT TO:<rcpt%d-%d@partner.example>\r\n", i, g.rng.IntN(100000))
		}
		cmd = append(cmd, "DATA\r\n"...)
		f.send(true, cmd)
		reply := []byte("250 2.1.0 Ok\r\n")
		for range rcpts {
			reply = append(reply, "250 2.1.5 Ok\r\n"...)
		}
		f.send(false, append(reply, "354 End data with <CR><LF>.<CR><LF>\r\n"...))
		msg := g.mimeMessage(from)
		g.stats.MailBytes += int64(len(msg))
		f.send(true, msg)
		f.send(false, []byte("250 2.0.0 Ok: queued\r\n"))
	}
	f.send(true, []byte("QUIT\r\n"))
	f.send(false, []byte("221 2.0.0 Bye\r\n"))
	f.close()
}

// mimeMessage writes a message with a text part and a base64 attachment,
// dot-terminated as DATA sends it.
func (g *generator) mimeMessage(from string) []byte {
	size := 4<<10 + g.rng.IntN(196<<10)
	m := fmt.Appendf(nil, "From: =?UTF-8?B?5byg5LiJ?= <%s>\r\nTo: partner@partner.example\r\n"+
		"Subject: =?UTF-8?B?5pyI5bqm5oql5ZGK?= %d\r\nMessage-ID: <%x@corp.example>\r\nDate: Thu, 01 Jan 2026 10:00:00 +0800\r\n"+
		"X-Mailer: pcapgen\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n"+
		"--=_b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
		"Please find the report attached. =E4=BD=A0=E5=A5=BD\r\n\r\n"+
		"--=_b\r\nContent-Type: application/octet-stream; name=\"report-%d.bin\"\r\nContent-Transfer-Encoding: base64\r\n"+
		"Content-Disposition: attachment; filename=\"report-%d.bin\"\r\n\r\n",
		from, g.rng.IntN(1000), g.rng.Uint64(), size, size)
	raw := make([]byte, 0, size)
	for len(raw) < size {
		raw = append(raw, g.body(size-len(raw))...)
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		m = append(m, enc[:76]...)
		m = append(m, '\r', '\n')
		enc = enc[76:]
	}
	m = append(m, enc...)
	return append(m, "\r\n--=_b--\r\n.\r\n"...)
}

func (g *generator) dnsFlow(f *flow) {
	g.stats.DNSQueries++
	id := uint16(g.rng.Uint32())
	name := g.hosts[g.rng.IntN(len(g.hosts))]
	q := binary.BigEndian.AppendUint16(nil, id)
	q = append(q, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	q = appendName(q, name)
	q = append(q, 0, 1, 0, 1)
	r := append([]byte(nil), q...)
	r[2], r[3] = 0x81, 0x80
	answers := 1 + g.rng.IntN(3)
	r[7] = byte(answers)
	for range answers {
		r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 198, 18, byte(g.rng.IntN(256)), byte(g.rng.IntN(256)))
	}
	f.segs = append(f.segs, seg{true, 0, q}, seg{false, 0, r})
}

func appendName(b []byte, name string) []byte {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '.' {
			b = append(b, byte(i-start))
			b = append(b, name[start:i]...)
			start = i + 1
		}
	}
	return append(b, 0)
}

func (g *generator) tlsFlow(f *flow) {
	g.stats.TLSSessions++
	f.open()
	f.send(true, g.clientHello(g.hosts[g.rng.IntN(len(g.hosts))]))
	// ServerHello, ChangeCipherSpec, then the encrypted rest of the
	// handshake (certificate chain) as application data records.
	sh := g.serverHello()
	sh = append(sh, 0x14, 0x03, 0x03, 0x00, 0x01, 0x01)
	sh = g.appRecords(sh, 2500+g.rng.IntN(2500))
	f.send(false, sh)
	f.send(true, g.appRecords(nil, 80))
	for range 1 + g.rng.IntN(4) {
		f.send(true, g.appRecords(nil, 300+g.rng.IntN(600)))
		f.send(false, g.appRecords(nil, 500+g.rng.IntN(30000)))
	}
	f.close()
}

// appRecords appends application_data records carrying n bytes.
func (g *generator) appRecords(b []byte, n int) []byte {
	for n > 0 {
		k := min(n, 16384)
		b = append(b, 0x17, 0x03, 0x03, byte(k>>8), byte(k))
		for k2 := k; k2 > 0; {
			c := g.body(k2)
			b = append(b, c...)
			k2 -= len(c)
		}
		n -= k
	}
	return b
}

func (g *generator) clientHello(sni string) []byte {
	var ext []byte
	// server_name
	ext = binary.BigEndian.AppendUint16(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sni)+5))
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sni)+3))
	ext = append(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sni)))
	ext = append(ext, sni...)
	// ALPN h2, http/1.1
	ext = append(ext, 0, 16, 0, 14, 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1')
	// supported_versions: TLS 1.3, 1.2
	ext = append(ext, 0, 43, 0, 5, 4, 3, 4, 3, 3)
	// key_share x25519 (32 bytes) and padding to a typical 512-byte hello
	ext = append(ext, 0, 51, 0, 38, 0, 36, 0, 29, 0, 32)
	ext = append(ext, g.body(32)...)
	body := []byte{3, 3}
	body = append(body, g.body(32)...) // random
	body = append(body, 32)            // session id
	body = append(body, g.body(32)...)
	body = append(body, 0, 8, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2f) // suites
	body = append(body, 1, 0)                                                 // compression
	pad := max(0, 508-len(body)-2-len(ext)-4)
	ext = append(ext, 0, 21, byte(pad>>8), byte(pad))
	ext = append(ext, make([]byte, pad)...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	return record(0x16, handshake(1, body))
}

func (g *generator) serverHello() []byte {
	body := []byte{3, 3}
	body = append(body, g.body(32)...)
	body = append(body, 32)
	body = append(body, g.body(32)...)
	body = append(body, 0x13, 0x01, 0) // TLS_AES_128_GCM_SHA256, no compression
	ext := []byte{0, 43, 0, 2, 3, 4, 0, 51, 0, 36, 0, 29, 0, 32}
	ext = append(ext, g.body(32)...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	return record(0x16, handshake(2, body))
}

func handshake(typ byte, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

func record(typ byte, body []byte) []byte {
	return append([]byte{typ, 3, 1, byte(len(body) >> 8), byte(len(body))}, body...)
}

// emit writes one packet of f at g.now.
func (g *generator) emit(f *flow, s seg) error {
	src, dst, sp, dp := f.client, f.server, f.cport, f.sport
	seq, ack := &f.cseq, &f.sseq
	if !s.fromClient {
		src, dst, sp, dp = dst, src, dp, sp
		seq, ack = ack, seq
	}
	b := g.frame[:0]
	b = append(b, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00) // Ethernet
	ipStart := len(b)
	proto := byte(6)
	l4 := 20
	if f.udp {
		proto, l4 = 17, 8
	}
	total := 20 + l4 + len(s.payload)
	g.ipID++
	b = append(b, 0x45, 0, byte(total>>8), byte(total), byte(g.ipID>>8), byte(g.ipID), 0x40, 0, 64, proto, 0, 0)
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	binary.BigEndian.PutUint16(b[ipStart+10:], checksum(b[ipStart:ipStart+20], 0))
	l4Start := len(b)
	if f.udp {
		b = binary.BigEndian.AppendUint16(b, sp)
		b = binary.BigEndian.AppendUint16(b, dp)
		b = binary.BigEndian.AppendUint16(b, uint16(8+len(s.payload)))
		b = append(b, 0, 0)
	} else {
		b = binary.BigEndian.AppendUint16(b, sp)
		b = binary.BigEndian.AppendUint16(b, dp)
		b = binary.BigEndian.AppendUint32(b, *seq)
		ackNum := uint32(0)
		if s.flags&flagACK != 0 {
			ackNum = *ack
		}
		b = binary.BigEndian.AppendUint32(b, ackNum)
		b = append(b, 5<<4, s.flags, 0xff, 0xff, 0, 0, 0, 0)
		*seq += uint32(len(s.payload))
		if s.flags&(flagSYN|flagFIN) != 0 {
			*seq++
		}
	}
	b = append(b, s.payload...)
	// Transport checksum over the pseudo-header.
	pseudo := uint32(0)
	for i := 0; i < 4; i += 2 {
		pseudo += uint32(binary.BigEndian.Uint16(src[i:])) + uint32(binary.BigEndian.Uint16(dst[i:]))
	}
	pseudo += uint32(proto) + uint32(len(b)-l4Start)
	off := l4Start + 16
	if f.udp {
		off = l4Start + 6
	}
	binary.BigEndian.PutUint16(b[off:], checksum(b[l4Start:], pseudo))
	g.frame = b

	var rec [16]byte
	us := g.now.UnixMicro()
	binary.LittleEndian.PutUint32(rec[0:], uint32(us/1e6))
	binary.LittleEndian.PutUint32(rec[4:], uint32(us%1e6))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(b)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(b)))
	if _, err := g.w.Write(rec[:]); err != nil {
		return fmt.Errorf("pcapgen: %w", err)
	}
	if _, err := g.w.Write(b); err != nil {
		return fmt.Errorf("pcapgen: %w", err)
	}
	g.stats.Packets++
	g.stats.Bytes += int64(len(b))
	return nil
}

// checksum is the Internet checksum of b plus an initial sum.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
