package audit

import (
	"net/netip"
	"slices"
	"time"

	"github.com/google/gopacket/layers"
)

// closedLingerUnderLoad is how long closed sessions linger while the table
// is over half full.
const closedLingerUnderLoad = 5 * time.Second

// Session lists: each holds the sessions of one timeout, least recently
// active first.
const (
	listNone uint8 = iota
	listTCP
	listUDP
	listClosed
)

// sessionEvent is what a Session event says but its endpoints, which the
// key holds (see session.client and session.server).
type sessionEvent struct {
	Start, End                 time.Time
	ClientPackets, ClientBytes uint64
	ServerPackets, ServerBytes uint64
	Proto                      Proto
	Reason                     EndReason
	App                        appName
}

// session is one open session. Every byte counts: a busy gateway holds a
// million of them, most of them UDP waiting out their timeout. The fields
// are ordered so that the runtime's 176-byte size class holds it (288
// before: the application as a string, the table's hash kept here, and
// padding between the flags).
type session struct {
	key  flowKey // first: a table lookup compares it
	list uint8   // which of the engine's lists it is in
	ttl  uint8   // IP TTL (hop limit) of the client's first packet
	// clientIsA: the client is the key's endpoint a. The endpoints are
	// not also kept as netip.AddrPorts (64 bytes a session).
	clientIsA bool
	// closed: FIN from both sides, or RST. The session lingers until
	// TCPClosedLinger passes or a new SYN reuses the ports.
	closed    bool
	finClient bool
	finServer bool
	// streamDone: the stream finished (both directions ended) and went
	// back to the free list; nothing more is reassembled.
	streamDone bool
	hasBaseSeq [2]bool
	ev         sessionEvent
	baseSeq    [2]uint32 // first sequence number seen, per direction (0: from client)
	nextSeq    [2]uint32 // sequence number after the last segment seen
	links      links[session]
	stream     *tcpStream // TCP: reassembly and parsing, from its first useful segment
}

// fromClient reports whether a packet whose source is the key's endpoint
// a (srcIsA) comes from the client. Both ways of a session between one
// endpoint and itself count as from the client.
func (s *session) fromClient(srcIsA bool) bool {
	return srcIsA == s.clientIsA || s.key.a == s.key.b && s.key.pa == s.key.pb
}

func (s *session) client() netip.AddrPort {
	if s.clientIsA {
		return s.key.endpointA()
	}
	return s.key.endpointB()
}

func (s *session) server() netip.AddrPort {
	if s.clientIsA {
		return s.key.endpointB()
	}
	return s.key.endpointA()
}

func (s *session) link() *links[session] { return &s.links }

// sessionList returns the list of a given kind.
func (e *Engine) sessionList(l uint8) *fifo[session, *session] {
	switch l {
	case listTCP:
		return &e.tcpList
	case listUDP:
		return &e.udpList
	}
	return &e.closedList
}

// touch puts s at the back of the list its state belongs in.
func (e *Engine) touch(s *session) {
	want := listUDP
	switch {
	case s.closed:
		want = listClosed
	case s.ev.Proto == TCP:
		want = listTCP
	}
	if s.list == want {
		e.sessionList(want).toBack(s)
		return
	}
	if s.list != listNone {
		e.sessionList(s.list).remove(s)
	}
	e.sessionList(want).push(s)
	s.list = want
}

// newSession takes a session from the free list.
func (e *Engine) newSession() *session {
	if n := len(e.free); n > 0 {
		s := e.free[n-1]
		e.free = e.free[:n-1]
		return s
	}
	return new(session)
}

// maxFree bounds the sessions kept for reuse.
const maxFree = 4096

// track finds or creates the session of a packet and counts it. It returns
// nil when the table is full.
func (e *Engine) track(proto Proto, src, dst netip.AddrPort, frames, frameBytes uint64) (*session, bool) {
	k, srcIsA := makeKey(proto, src, dst)
	h := e.sessions.hash(&k)
	s := e.sessions.get(&k, h)
	if s != nil && (e.expired(s, e.now) || (proto == TCP && s.reused(s.fromClient(srcIsA), &e.tcp))) {
		// The old session is over: idle too long, lingered long enough
		// after closing, or its ports were reused by a new connection.
		e.endSession(s, s.endReason(), true)
		s = nil
	}
	if s == nil {
		if e.sessions.len() >= e.cfg.MaxSessions {
			e.stats.SessionsDropped++
			return nil, false
		}
		s = e.newSession()
		s.key = k
		s.ev.Proto = proto
		s.clientIsA = srcIsA
		// A SYN-ACK as the first packet seen means we missed the SYN: the
		// receiver is the client (unless it is the sender too).
		if proto == TCP && e.tcp.SYN && e.tcp.ACK && src != dst {
			s.clientIsA = !srcIsA
		}
		s.ev.Start = e.now
		e.sessions.insert(s, h)
	}
	fromClient := s.fromClient(srcIsA)
	if fromClient && s.ttl == 0 {
		s.ttl = e.pktTTL
	}
	if fromClient {
		s.ev.ClientPackets += frames
		s.ev.ClientBytes += frameBytes
	} else {
		s.ev.ServerPackets += frames
		s.ev.ServerBytes += frameBytes
	}
	s.ev.End = e.now
	e.touch(s)
	return s, fromClient
}

// reused reports whether a TCP packet starts a new connection on the
// session's ports: a SYN (without ACK) whose sequence number differs from
// the first one seen in its direction. This is also how tshark splits TCP
// streams.
func (s *session) reused(fromClient bool, t *layers.TCP) bool {
	if !t.SYN || t.ACK {
		return false
	}
	d := 1
	if fromClient {
		d = 0
	}
	return s.hasBaseSeq[d] && s.baseSeq[d] != t.Seq
}

func (s *session) tcpFlags(fromClient bool, t *layers.TCP) {
	d := 1
	if fromClient {
		d = 0
	}
	if !s.hasBaseSeq[d] {
		s.baseSeq[d], s.nextSeq[d], s.hasBaseSeq[d] = t.Seq, t.Seq, true
	}
	switch {
	case t.RST:
		// A reset far from the sequence numbers this side used is not
		// accepted by the peer (RFC 5961); the connection goes on.
		if !s.closed && seqNear(s.nextSeq[d], t.Seq) {
			s.closed, s.ev.Reason = true, EndRST
		}
		return
	case t.FIN:
		if fromClient {
			s.finClient = true
		} else {
			s.finServer = true
		}
		if s.finClient && s.finServer && !s.closed {
			s.closed, s.ev.Reason = true, EndFIN
		}
	}
	end := t.Seq + uint32(len(t.Payload))
	if t.SYN || t.FIN {
		end++
	}
	if int32(end-s.nextSeq[d]) > 0 || t.SYN {
		s.nextSeq[d] = end
	}
}

// expired reports whether s is over at time now.
func (e *Engine) expired(s *session, now time.Time) bool {
	idle := now.Sub(s.ev.End)
	switch {
	case s.closed:
		linger := e.cfg.TCPClosedLinger
		if e.sessions.len() > e.cfg.MaxSessions/2 {
			// Under pressure, free closed sessions quickly rather than
			// drop new ones.
			linger = min(linger, closedLingerUnderLoad)
		}
		return idle > linger
	case s.ev.Proto == TCP:
		return idle > e.cfg.TCPIdleTimeout
	default:
		return idle > e.cfg.UDPIdleTimeout
	}
}

func (s *session) endReason() EndReason {
	if s.closed {
		return s.ev.Reason
	}
	return EndIdle
}

// endSession flushes s's stream, emits s and, if remove, drops it from
// the table and recycles it.
func (e *Engine) endSession(s *session, reason EndReason, remove bool) {
	if s.stream != nil {
		e.endStream(s.stream)
		e.recycle(s.stream)
		s.stream = nil
	}
	if e.cur == s {
		e.cur = nil
	}
	ev := &e.evSession
	*ev = Session{Proto: s.ev.Proto, Client: s.client(), Server: s.server(), Start: s.ev.Start, End: s.ev.End,
		ClientPackets: s.ev.ClientPackets, ClientBytes: s.ev.ClientBytes, ServerPackets: s.ev.ServerPackets, ServerBytes: s.ev.ServerBytes,
		Reason: reason, App: s.ev.App.String()}
	if ev.Proto == TCP {
		e.stats.SessionsTCP++
	} else {
		e.stats.SessionsUDP++
	}
	e.sink.Session(ev)
	if remove {
		e.sessions.remove(s, e.sessions.hash(&s.key))
		if s.list != listNone {
			e.sessionList(s.list).remove(s)
		}
		*s = session{}
		if len(e.free) < maxFree {
			e.free = append(e.free, s)
		}
	}
}

// expireSessions ends the sessions that are over at now: the front of each
// list, least recently active first.
func (e *Engine) expireSessions(now time.Time) {
	for _, l := range []uint8{listClosed, listTCP, listUDP} {
		q := e.sessionList(l)
		for s := q.front(); s != nil && e.expired(s, now); s = q.front() {
			e.endSession(s, s.endReason(), true)
		}
	}
}

// endAllSessions ends every session at the end of the capture, in the
// order they started so the output does not depend on map order.
func (e *Engine) endAllSessions() {
	all := e.sessions.all()
	sortSessions(all)
	for _, s := range all {
		reason := EndCaptureEnd
		if s.closed {
			reason = s.ev.Reason
		}
		e.endSession(s, reason, true)
	}
}

func sortSessions(ss []*session) {
	slices.SortFunc(ss, func(x, y *session) int {
		if c := x.ev.Start.Compare(y.ev.Start); c != 0 {
			return c
		}
		return x.key.compare(&y.key)
	})
}
