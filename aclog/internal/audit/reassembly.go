package audit

import (
	"slices"
	"time"

	"github.com/google/gopacket/layers"
)

// TCP reassembly is the engine's own rather than gopacket's Assembler:
// the Assembler keeps its connections in a pool of its own behind a mutex
// and can only expire them by scanning all of them (FlushWithOptions), so
// every sweep cost what was open, and a connection could not be ended when
// its session ended. Here a connection's state lives in its session's
// stream: it is flushed and finished when the session ends (FIN/RST
// linger, idle, port reuse, capture end), and the only list walked is the
// one of connections waiting behind a hole, in time order.

// pageBytes is the unit of the reassembly caps: gopacket's page size, so
// configured caps keep their meaning.
const pageBytes = 1900

// segment is data that arrived before what precedes it.
type segment struct {
	seq  uint32
	data []byte // copied: packet buffers are reused
	end  bool   // FIN or RST: the direction ends after data
	seen time.Time
}

// half is one direction of a connection.
type half struct {
	started bool
	closed  bool
	next    uint32    // next sequence number to deliver
	queue   []segment // out of order, by sequence number
	queued  int       // bytes in queue
}

// segment passes one TCP segment of s's session to reassembly; d is 0 for
// the session's client to server, 1 for the other way.
func (e *Engine) segment(st *tcpStream, d int, t *layers.TCP) {
	h := &st.h[d]
	if h.closed {
		return
	}
	// Checksums are not checked (offloading makes them unreliable) and no
	// TCP state machine rejects segments. Two kinds of segment are kept
	// away from reassembly, because they would break it for good:
	if t.RST && h.started && !seqNear(h.next, t.Seq) {
		// A reset far outside the window: the receiver's stack rejects it
		// too (RFC 5961 3.2), and the connection goes on (typically a
		// stale ACK, this RST, then a retransmitted SYN).
		return
	}
	if !h.started && !t.SYN && !t.FIN && !t.RST && len(t.Payload) == 0 {
		// A bare ACK must not fix where a direction starts: the SYN-ACK or
		// the first data that follows may use another sequence.
		return
	}
	seq := t.Seq
	if t.SYN {
		seq++ // data starts after the SYN
	}
	if !h.started {
		// Directions whose SYN we missed start at their first segment.
		h.started, h.next = true, seq
	}
	end := t.FIN || t.RST
	if diff := int32(seq - h.next); diff > 0 {
		e.enqueue(st, d, segment{seq: seq, data: append([]byte(nil), t.Payload...), end: end, seen: e.now})
		return
	}
	e.deliver(st, d, seq, t.Payload, end)
	if !h.closed {
		e.drain(st, d)
	}
}

// deliver passes data starting at seq, at or before h.next, to the stream.
// A FIN or RST (end) closes the direction after its data.
func (e *Engine) deliver(st *tcpStream, d int, seq uint32, data []byte, end bool) {
	h := &st.h[d]
	if old := int(h.next - seq); old > 0 {
		// Overlaps what was delivered: the first copy wins.
		data = data[min(old, len(data)):]
	}
	if len(data) > 0 {
		h.next += uint32(len(data))
		st.reassembled(d, data)
	}
	if end {
		e.closeHalf(st, d)
	}
}

// drain delivers the queued segments that have become contiguous.
func (e *Engine) drain(st *tcpStream, d int) {
	h := &st.h[d]
	for len(h.queue) > 0 && !h.closed && int32(h.queue[0].seq-h.next) <= 0 {
		sg := e.dequeue(st, d)
		e.deliver(st, d, sg.seq, sg.data, sg.end)
	}
	e.gapDone(st)
}

// dequeue takes the first queued segment of direction d.
func (e *Engine) dequeue(st *tcpStream, d int) segment {
	h := &st.h[d]
	sg := h.queue[0]
	h.queue[0] = segment{}
	h.queue = h.queue[1:]
	if len(h.queue) == 0 {
		h.queue = nil
	}
	h.queued -= len(sg.data)
	e.queuedBytes -= len(sg.data)
	return sg
}

// enqueue keeps a segment that came before what precedes it, within the
// caps: past them the oldest hole is skipped (and counted as a gap).
func (e *Engine) enqueue(st *tcpStream, d int, sg segment) {
	h := &st.h[d]
	i := len(h.queue)
	for i > 0 && int32(h.queue[i-1].seq-sg.seq) > 0 {
		i--
	}
	h.queue = slices.Insert(h.queue, i, sg)
	h.queued += len(sg.data)
	e.queuedBytes += len(sg.data)
	if !st.waiting {
		st.waiting, st.gapSince = true, e.now
		e.gaps.push(st)
	}
	for h.queued > e.cfg.MaxBufferedPagesPerConn*pageBytes && len(h.queue) > 0 {
		e.skip(st, d)
	}
	for e.queuedBytes > e.cfg.MaxBufferedPagesTotal*pageBytes && e.gaps.front() != nil {
		old := e.gaps.front()
		e.skip(old, old.oldestDir())
	}
}

// skip gives up on the hole before direction d's first queued segment.
func (e *Engine) skip(st *tcpStream, d int) {
	h := &st.h[d]
	if len(h.queue) == 0 {
		return
	}
	n := int(h.queue[0].seq - h.next)
	e.stats.TCPGaps++
	e.stats.TCPGapBytes += uint64(n)
	st.skipped(d, n)
	h.next = h.queue[0].seq
	e.drain(st, d)
}

// gapDone takes st off the waiting list once nothing is queued.
func (e *Engine) gapDone(st *tcpStream) {
	if st.waiting && len(st.h[0].queue) == 0 && len(st.h[1].queue) == 0 {
		st.waiting = false
		e.gaps.remove(st)
	}
}

// expireGaps skips the holes that have waited since before cutoff.
func (e *Engine) expireGaps(cutoff time.Time) {
	for st := e.gaps.front(); st != nil && st.gapSince.Before(cutoff); st = e.gaps.front() {
		for d := range 2 {
			for h := &st.h[d]; len(h.queue) > 0 && h.queue[0].seen.Before(cutoff); {
				e.skip(st, d)
			}
		}
		if st.waiting {
			// Younger segments wait on, behind the stream's next hole.
			e.gaps.remove(st)
			st.gapSince = st.oldestSeen()
			e.gaps.push(st)
		}
	}
}

// closeHalf ends direction d; when both have ended the stream is finished.
func (e *Engine) closeHalf(st *tcpStream, d int) {
	h := &st.h[d]
	h.closed = true
	for len(h.queue) > 0 {
		e.dequeue(st, d)
	}
	e.gapDone(st)
	if st.h[0].closed && st.h[1].closed {
		st.finish()
	}
}

// endStream flushes what the stream holds, skipping its holes, and
// finishes it: its session ended.
func (e *Engine) endStream(st *tcpStream) {
	for d := range 2 {
		for len(st.h[d].queue) > 0 && !st.h[d].closed {
			e.skip(st, d)
		}
	}
	for d := range 2 {
		if !st.h[d].closed {
			e.closeHalf(st, d)
		}
	}
}

// oldestDir is the direction whose first queued segment is older.
func (st *tcpStream) oldestDir() int {
	if len(st.h[0].queue) == 0 {
		return 1
	}
	if len(st.h[1].queue) == 0 || !st.h[1].queue[0].seen.Before(st.h[0].queue[0].seen) {
		return 0
	}
	return 1
}

// oldestSeen is when the oldest queued segment arrived.
func (st *tcpStream) oldestSeen() time.Time {
	d := st.oldestDir()
	if len(st.h[d].queue) == 0 {
		return time.Time{}
	}
	return st.h[d].queue[0].seen
}
