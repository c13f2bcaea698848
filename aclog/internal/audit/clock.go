package audit

import (
	"time"
)

// Flush expires idle sessions, streams, DNS queries and fragments as of now.
// In file mode the engine does this itself by packet time; a live capture
// calls it on read timeouts so a quiet link still ends idle sessions. now
// never moves the engine's clock backwards.
func (e *Engine) Flush(now time.Time) {
	if e.closed {
		return
	}
	if now.After(e.now) {
		e.now = now
	}
	e.sweep(e.now)
}

func (e *Engine) sweep(now time.Time) {
	e.pktIPLen = 0 // what a sweep flushes was not completed by a packet
	e.expireGaps(now.Add(-e.cfg.GapWait))
	e.expireSessions(now)
	e.ftpExpect.Expire(now)
	e.tftp.Expire(now, false)
	e.dnsq.Expire(now, false)
	e.stats.FragmentsDropped += e.frags.expire(now.Add(-fragmentTimeout), false)
}

// Close ends the capture: every stream is flushed, every session still open
// ends with reason EndCaptureEnd, every query still waiting is emitted. The
// engine accepts no packets afterwards.
func (e *Engine) Close() {
	if e.closed {
		return
	}
	e.sweep(e.now) // what has timed out by the last packet ends as such
	e.endAll()
	e.closed = true
}

// MaxReorder is how far a packet may be stamped before the latest packet
// time seen and still belong to the same run of time (capture reordering,
// a small clock correction). Further back is a jump: SteppedBack.
const MaxReorder = 10 * time.Second

// SteppedBack reports whether a packet at t, after packets up to clock,
// means time went back: an older capture file after a newer one, or a live
// clock stepped back.
func SteppedBack(clock, t time.Time) bool {
	return !clock.IsZero() && t.Before(clock.Add(-MaxReorder))
}

// Restart ends everything open as Close does (streams flushed, sessions
// ended with EndCaptureEnd, queries emitted, fragments dropped) and sets
// the clock to at, which may be earlier than any packet seen: what comes
// next is timed and stamped by its own packets. Packet calls it itself
// when time jumps back; a caller that keeps its own clock (aclog's
// pipeline, to close its windows too) calls it first.
func (e *Engine) Restart(at time.Time) {
	if e.closed {
		return
	}
	e.sweep(e.now) // what has timed out by the last packet ends as such
	e.endAll()
	e.ftpExpect.Reset()
	e.now, e.nextSweep = at, time.Time{}
	e.stats.Restarts++
}

// endAll ends every stream, transfer, session, query and fragment train.
func (e *Engine) endAll() {
	e.pktIPLen = 0 // what this flushes was not completed by a packet
	e.tftp.Expire(time.Time{}, true)
	e.endAllSessions()
	e.dnsq.Expire(time.Time{}, true)
	e.stats.FragmentsDropped += e.frags.expire(time.Time{}, true)
}
