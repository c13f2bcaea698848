package pipeline

import (
	"net/netip"

	"github.com/acstore/acstore/aclog/internal/audit"
)

// collector is a worker's sink: events wait for the lanes, one list per
// lane. The engine reuses the memory of the records every session yields
// once the call returns (see audit.Sink), so those are copied, by value,
// into slices of their kind; a lane hands the slices back once it has
// applied them, and the worker fills them again, so a session's events
// cost no allocation here either.
type collector struct {
	lanes []*laneEvents
	// spare holds the lists the lanes have applied, for reuse. It is
	// sized for every list that can be in flight (each lane's epoch
	// channel, the one it applies, the one being collected): a lane
	// never waits to hand one back.
	spare chan *laneEvents
}

// eventKind says which of laneEvents' slices holds an event.
type eventKind uint8

const (
	evSession eventKind = iota
	evHTTP
	evDNS
	evTLS
	evOther
)

// laneEvents are a worker's events of one epoch for one lane, in the
// order the engine emitted them: order says which list the next one is
// in. The per-session records are copies the lane's goroutine may read
// while the worker goes on; the others were the engine's to give away.
type laneEvents struct {
	order    []eventKind
	sessions chunked[audit.Session]
	http     chunked[audit.HTTPRequest]
	dns      chunked[audit.DNSQuery]
	tls      chunked[audit.TLSHandshake]
	answers  arena[audit.DNSAnswer] // dns' Answers are in it
	alpn     arena[string]          // tls' ALPN are in it
	other    []any
}

// maxKeptEvents bounds the events whose memory a list keeps for reuse: an
// epoch that ends every session (a restart, a long quiet link) must not
// pin its memory for good.
const maxKeptEvents = 1 << 12

// newCollector returns a collector for lanes lanes.
func newCollector(lanes int) *collector {
	c := &collector{lanes: make([]*laneEvents, lanes), spare: make(chan *laneEvents, 4*lanes)}
	for k := range c.lanes {
		c.lanes[k] = new(laneEvents)
	}
	return c
}

// take returns the events collected for each lane and starts afresh with
// lists the lanes handed back, or new ones.
func (c *collector) take() []*laneEvents {
	ev := c.lanes
	c.lanes = make([]*laneEvents, len(ev))
	for k := range c.lanes {
		select {
		case c.lanes[k] = <-c.spare:
		default:
			c.lanes[k] = new(laneEvents)
		}
	}
	return ev
}

// recycle takes back a list a lane has applied. Called on the lane's
// goroutine: the channel orders its reads before the worker's next writes.
func (c *collector) recycle(ev *laneEvents) {
	ev.reset()
	select {
	case c.spare <- ev:
	default:
	}
}

func (c *collector) lane(a netip.Addr) *laneEvents { return c.lanes[clientLane(a, len(c.lanes))] }

func (c *collector) Session(v *audit.Session) {
	l := c.lane(v.Client.Addr())
	l.order = append(l.order, evSession)
	l.sessions.add(v)
}

func (c *collector) HTTP(v *audit.HTTPRequest) {
	l := c.lane(v.Client.Addr())
	l.order = append(l.order, evHTTP)
	l.http.add(v)
}

func (c *collector) DNS(v *audit.DNSQuery) {
	l := c.lane(v.Client.Addr())
	l.order = append(l.order, evDNS)
	l.dns.add(v).Answers = l.answers.copy(v.Answers)
}

func (c *collector) TLS(v *audit.TLSHandshake) {
	l := c.lane(v.Client.Addr())
	l.order = append(l.order, evTLS)
	l.tls.add(v).ALPN = l.alpn.copy(v.ALPN)
}

func (c *collector) first(ev any) {
	l := c.lanes[0]
	l.order = append(l.order, evOther)
	l.other = append(l.other, ev)
}

func (c *collector) Mail(v *audit.Mail)             { c.first(v) }
func (c *collector) Credential(v *audit.Credential) { c.first(v) }
func (c *collector) File(v *audit.FileTransfer)     { c.first(v) }
func (c *collector) Post(v *audit.Post)             { c.first(v) }
func (c *collector) Chat(v *audit.Chat)             { c.first(v) }

// deliver passes the events to sink in the order they were collected.
func (l *laneEvents) deliver(sink audit.Sink) {
	var s, h, d, t, o int
	for _, k := range l.order {
		switch k {
		case evSession:
			sink.Session(l.sessions.at(s))
			s++
		case evHTTP:
			sink.HTTP(l.http.at(h))
			h++
		case evDNS:
			sink.DNS(l.dns.at(d))
			d++
		case evTLS:
			sink.TLS(l.tls.at(t))
			t++
		default:
			deliverOther(sink, l.other[o])
			o++
		}
	}
}

// reset empties l for reuse, letting go of what the events pointed to,
// and of the memory of an epoch that was unusually large.
func (l *laneEvents) reset() {
	if len(l.order) > maxKeptEvents {
		*l = laneEvents{}
		return
	}
	l.order = l.order[:0]
	l.sessions.reset()
	l.http.reset()
	l.dns.reset()
	l.tls.reset()
	l.answers.reset()
	l.alpn.reset()
	clear(l.other)
	l.other = l.other[:0]
}

// chunked is a list of values kept in chunks of a fixed size: it grows
// without copying what it holds (an epoch that ends every open session
// holds a great many), and keeps its chunks when emptied.
type chunked[E any] struct {
	chunks []*[chunkLen]E
	n      int
}

const chunkLen = 64

// add appends a copy of *v and returns it.
func (c *chunked[E]) add(v *E) *E {
	k, i := c.n/chunkLen, c.n%chunkLen
	if k == len(c.chunks) {
		c.chunks = append(c.chunks, new([chunkLen]E))
	}
	p := &c.chunks[k][i]
	*p = *v
	c.n++
	return p
}

func (c *chunked[E]) at(i int) *E { return &c.chunks[i/chunkLen][i%chunkLen] }

// reset empties c, clearing what it held.
func (c *chunked[E]) reset() {
	for k := range (c.n + chunkLen - 1) / chunkLen {
		clear(c.chunks[k][:])
	}
	c.n = 0
}

// arena holds copies of slices: each copy is cut from a block, and a
// copy that does not fit starts a new block, so earlier copies, pointing
// into the old one, never move.
type arena[E any] struct{ block []E }

const arenaBlock = 1024

// copy returns a copy of s (nil for nil).
func (a *arena[E]) copy(s []E) []E {
	if len(s) == 0 {
		return s[:0:0]
	}
	if cap(a.block)-len(a.block) < len(s) {
		a.block = make([]E, 0, max(arenaBlock, len(s)))
	}
	n := len(a.block)
	a.block = append(a.block, s...)
	return a.block[n:len(a.block):len(a.block)]
}

// reset empties a, keeping its last block.
func (a *arena[E]) reset() {
	clear(a.block)
	a.block = a.block[:0]
}

// deliverOther passes an event of the kinds the engine does not reuse.
func deliverOther(sink audit.Sink, ev any) {
	switch v := ev.(type) {
	case *audit.Mail:
		sink.Mail(v)
	case *audit.Credential:
		sink.Credential(v)
	case *audit.FileTransfer:
		sink.File(v)
	case *audit.Post:
		sink.Post(v)
	case *audit.Chat:
		sink.Chat(v)
	}
}
