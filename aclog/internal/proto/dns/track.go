package dns

import (
	"errors"
	"net/netip"
	"time"
)

// MaxPending bounds the queries waiting for responses; past it a query is
// reported at once, without one.
const MaxPending = 1 << 16

// ErrNoQuestion is returned for a query that asks nothing.
var ErrNoQuestion = errors.New("dns: query without a question")

// Exchange is one question and what became of it: the query that asked it
// and the response that answered it, as far as either was seen.
type Exchange struct {
	Time      time.Time // of the query, or of the response when no query was seen
	Client    netip.AddrPort
	Server    netip.AddrPort
	Transport uint8 // as the caller gave it: the IP protocol, UDP or TCP

	ID     uint16
	Name   string // presentation form, no trailing dot
	QType  uint16
	QClass uint16 // mDNS sets the top bit for unicast-response questions

	HasQuery    bool
	HasResponse bool
	RCode       uint8 // valid when HasResponse
	Answers     []Answer
	// RTT is response time minus query time, when both were seen.
	RTT time.Duration
}

// Answer is one answer-section record of a response.
type Answer struct {
	Name string
	Type uint16
	TTL  uint32
	Data string // text: "192.0.2.1", "www.example.com", "10 mx.example.com" ...
}

// Tracker pairs queries with their responses by flow and transaction id,
// for DNS over UDP and over TCP alike. K identifies the flow a message
// travelled, the same for both directions (the caller's 5-tuple key).
type Tracker[K comparable] struct {
	timeout time.Duration
	emit    func(*Exchange)
	msg     Message // reused by every message
	m       map[pairKey[K]]*pending[K]
	// The queries waiting are also in a list, oldest first, so expiry
	// looks only at those that time out.
	head, tail *pending[K]

	// Reused from message to message: what emit is given is valid only
	// during the call (see the package doc). Most queries are answered
	// within milliseconds, so a few pending entries serve them all.
	free    []*pending[K]
	answers []Answer
	alone   []Exchange // a response's exchanges when no query waits
}

// maxFree bounds the pending entries kept for reuse.
const maxFree = 1024

type pairKey[K comparable] struct {
	flow K
	id   uint16
}

// pending is a query waiting for its response: one Exchange per question.
type pending[K comparable] struct {
	key        pairKey[K]
	ex         []Exchange
	one        [1]Exchange // ex's storage for the usual single question
	prev, next *pending[K]
}

// at is when the query was seen (every exchange of it has that time).
func (p *pending[K]) at() time.Time { return p.ex[0].Time }

// NewTracker returns a Tracker whose queries wait timeout for their
// responses, and that passes every finished Exchange to emit.
func NewTracker[K comparable](timeout time.Duration, emit func(*Exchange)) *Tracker[K] {
	return &Tracker[K]{timeout: timeout, emit: emit, m: make(map[pairKey[K]]*pending[K])}
}

// Expire reports the queries seen more than the timeout before now without
// a response (every query waiting when all is set), oldest first.
func (t *Tracker[K]) Expire(now time.Time, all bool) {
	cutoff := now.Add(-t.timeout)
	for p := t.head; p != nil && (all || p.at().Before(cutoff)); p = t.head {
		t.take(p)
		t.emitAll(p.ex)
		t.recycle(p)
	}
}

// newPending returns an empty pending entry, one recycled if there is one.
func (t *Tracker[K]) newPending(key pairKey[K]) *pending[K] {
	var p *pending[K]
	if n := len(t.free); n > 0 {
		p = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		p = new(pending[K])
	}
	p.key = key
	p.ex = p.one[:0]
	return p
}

// recycle keeps p, taken and emitted, for another query.
func (t *Tracker[K]) recycle(p *pending[K]) {
	if len(t.free) >= maxFree {
		return
	}
	*p = pending[K]{}
	t.free = append(t.free, p)
}

func (t *Tracker[K]) emitAll(ex []Exchange) {
	for i := range ex {
		t.emit(&ex[i])
	}
}

// push adds a query at the back of the waiting list and to the map.
func (t *Tracker[K]) push(p *pending[K]) {
	t.m[p.key] = p
	p.prev, p.next = t.tail, nil
	if t.tail != nil {
		t.tail.next = p
	} else {
		t.head = p
	}
	t.tail = p
}

// take removes a waiting query.
func (t *Tracker[K]) take(p *pending[K]) {
	delete(t.m, p.key)
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		t.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		t.tail = p.prev
	}
	p.prev, p.next = nil, nil
}
