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
