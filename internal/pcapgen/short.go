package pcapgen

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// ShortConfig describes a capture of short sessions, shaped like web and
// DNS browsing at a gateway: half HTTP sessions of 8 packets (handshake,
// one GET, one 200 response, FIN/ACK), half DNS query/answer pairs of 2,
// clients over a /14, servers over a /16.
type ShortConfig struct {
	Seed     uint64
	Sessions int
	// Rate is how many sessions start per second of capture time.
	Rate float64
	// Duration is how long one session lasts in capture time (default
	// 50 ms); Rate x Duration is how many are open at once.
	Duration time.Duration
	Start    time.Time // first packet time (default 2026-01-01 UTC)
}

// event is one packet of a flow, due at a time.
type event struct {
	at time.Time
	f  *flow
}

type events []event

func (h events) Len() int           { return len(h) }
func (h events) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h events) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *events) Push(x any)        { *h = append(*h, x.(event)) }
func (h *events) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// WriteShort writes a classic pcap of short sessions to w.
func WriteShort(w io.Writer, cfg ShortConfig) (Stats, error) {
	if cfg.Sessions <= 0 || cfg.Rate <= 0 {
		return Stats{}, fmt.Errorf("pcapgen: sessions and rate must be positive, got %d and %v", cfg.Sessions, cfg.Rate)
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 50 * time.Millisecond
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	g, err := newGenerator(w, cfg.Seed)
	if err != nil {
		return g.stats, err
	}
	gap := time.Duration(float64(time.Second) / cfg.Rate)
	var h events
	next := cfg.Start
	for started := 0; started < cfg.Sessions || len(h) > 0; {
		// Start every session due before the next packet.
		for started < cfg.Sessions && (len(h) == 0 || !next.After(h[0].at)) {
			f := g.shortFlow()
			heap.Push(&h, event{next, f})
			started++
			next = next.Add(gap)
		}
		ev := heap.Pop(&h).(event)
		f := ev.f
		g.now = ev.at
		if err := g.emit(f, f.segs[f.next]); err != nil {
			return g.stats, err
		}
		f.next++
		if f.next < len(f.segs) {
			// Spread the packets over the session's duration.
			step := cfg.Duration / time.Duration(len(f.segs)-1)
			heap.Push(&h, event{ev.at.Add(step), f})
		}
	}
	if err := g.w.Flush(); err != nil {
		return g.stats, fmt.Errorf("pcapgen: %w", err)
	}
	return g.stats, nil
}

// shortFlow is an 8-packet HTTP session or a 2-packet DNS exchange.
func (g *generator) shortFlow() *flow {
	g.nextIP++
	f := &flow{
		client: g.addr(0x0a000000 | g.rng.Uint32N(1<<18)), // 10.0.0.0/14
		server: g.addr(0xc6120000 | g.rng.Uint32N(1<<16)), // 198.18.0.0/16
		cport:  uint16(1024 + g.rng.IntN(64000)),
		cseq:   g.rng.Uint32(),
		sseq:   g.rng.Uint32(),
	}
	host := g.hosts[g.rng.IntN(len(g.hosts))]
	if g.rng.IntN(2) == 0 {
		f.sport, f.udp = 53, true
		g.dnsFlow(f)
		return f
	}
	g.stats.HTTPSessions++
	g.stats.HTTPRequests++
	f.sport = 80
	f.open()
	req := fmt.Appendf(nil, "GET /p/%d HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n", g.rng.IntN(100000), host)
	size := 100 + g.rng.IntN(1000)
	resp := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", size)
	resp = append(resp, g.body(size)...)
	f.segs = append(f.segs, seg{true, flagACK | flagPSH, req}, seg{false, flagACK | flagPSH, resp})
	f.close()
	return f
}

// header writes the pcap file header: microsecond timestamps, Ethernet.
func (g *generator) header() error {
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	if _, err := g.w.Write(hdr); err != nil {
		return fmt.Errorf("pcapgen: %w", err)
	}
	return nil
}
