package record

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/internal/configtab"
	"github.com/acstore/acstore/internal/logfile"
)

// heldRow is a U or Q row kept back while the repeats that follow are
// folded into it. It is written, with their count and the last one's time,
// when its fold window ends, and never later than the end of its 5-minute
// window, so it lands in its window's sync_file before that is published.
// It is kept as the text of its fields before the count, not as the event
// (with all it points to: a fifth of the heap at 10k sessions/s), after
// its key (appendKey), in memory it keeps when it is reused.
type heldRow struct {
	first, last time.Time
	due         int64 // Unix nanoseconds
	count       uint64
	hash        uint32 // of its key, in heldRows.index
	keyLen      int32
	fields      int32
	written     bool // released before it was due: its entry in the queue is stale

	buf []byte // its key, then its fields after the time, before the count
}

func (h *heldRow) key() []byte  { return h.buf[:h.keyLen] }
func (h *heldRow) text() []byte { return h.buf[h.keyLen:] }

// heldRows is the rows held for folding, by value in fixed blocks (no
// object per row for the GC to follow, none allocated once the blocks
// have grown to the most ever held), found by their keys through index,
// and ordered by when they are due in due. A row released before it is
// due leaves its entry in due, skipped when it comes up; a row is reused
// once due no longer names it.
type heldRows struct {
	rows  blocks[heldRow]
	free  []int32 // rows no longer queued, for reuse
	live  int     // rows held
	index index
	hash  keyHash
	due   dueQueue
	key   []byte // the key of the row being folded
}

func newHeldRows() heldRows { return heldRows{hash: newKeyHash()} }

// appendKey appends what makes rows repeats: the table, the client, and
// the request (U: method, host, URI; Q: name, transport, type), in bytes
// that are equal exactly when the keys are (every part of the address
// that == compares; each text after its length).
func appendKey(b []byte, table byte, ip netip.Addr, a, bs, c string, n uint16) []byte {
	a16 := ip.As16()
	b = append(append(b, table), a16[:]...)
	b = append(b, byte(ip.BitLen()), byte(n), byte(n>>8))
	for _, s := range [...]string{ip.Zone(), a, bs, c} {
		b = append(binary.AppendUvarint(b, uint64(len(s))), s...)
	}
	return b
}

// foldHTTP holds or folds a U row; false means write it now.
func (r *Recorder) foldHTTP(h *audit.HTTPRequest, app configtab.App) bool {
	if !r.reduce.folds('U') {
		return false
	}
	red := &r.reduce.held
	red.key = appendKey(red.key[:0], 'U', h.Client.Addr(), h.Method, h.Host, h.URI, 0)
	i, ok := r.fold(h.Time)
	if i >= 0 {
		r.holdEnc.Reset()
		r.encodeU(&r.holdEnc, h, app)
		red.rows.at(i).hold(&r.holdEnc)
	}
	return ok
}

// foldDNS holds or folds a Q row; false means write it now.
func (r *Recorder) foldDNS(q *audit.DNSQuery) bool {
	if !r.reduce.folds('Q') {
		return false
	}
	red := &r.reduce.held
	red.key = appendKey(red.key[:0], 'Q', q.Client.Addr(), q.Name, q.Transport.String(), "", q.QType)
	i, ok := r.fold(q.Time)
	if i >= 0 {
		r.holdEnc.Reset()
		r.encodeQ(&r.holdEnc, q)
		red.rows.at(i).hold(&r.holdEnc)
	}
	return ok
}

// hold keeps the fields e encoded, after the row's key.
func (h *heldRow) hold(e *logfile.Encoder) {
	h.buf, h.fields = append(h.buf[:h.keyLen], e.Bytes()...), int32(e.Fields())
}

// fold counts a row at t of key heldRows.key into the row held for that
// key when it falls in that row's fold window, or holds it as a new one,
// returned (>= 0) for the caller to give its fields. It returns false for
// a row to write at once: one older than the row held for its key (a late
// event), which is not a repeat of it.
func (r *Recorder) fold(t time.Time) (int32, bool) {
	red := &r.reduce.held
	key := red.key
	h := red.hash.bytes(key)
	if i, ok := red.index.find(h, func(i int32) bool { return bytes.Equal(red.rows.at(i).key(), key) }); ok {
		hd := red.rows.at(i)
		if t.Before(hd.first) {
			return -1, false
		}
		if t.UnixNano() < hd.due {
			hd.count++
			hd.last = maxTime(hd.last, t)
			if key[0] == 'U' {
				r.reduce.repeatU++
			} else {
				r.reduce.repeatQ++
			}
			return -1, true
		}
		r.release(i)
	}
	if maxHeld := r.reduce.cfg.MaxTracked; red.live >= maxHeld {
		// Memory stays bounded: the rows due first are written early,
		// which only ends their folding sooner.
		for red.live >= maxHeld/2 {
			i := red.next()
			if i < 0 {
				break
			}
			r.release(i)
		}
	}
	i := red.newRow()
	hd := red.rows.at(i)
	hd.first, hd.last, hd.count, hd.hash = t, t, 1, h
	hd.due = minTime(t.Add(r.reduce.cfg.RepeatWindow), logfile.WindowStart(t).Add(logfile.WindowLength)).UnixNano()
	hd.buf, hd.keyLen = append(hd.buf[:0], key...), int32(len(key))
	red.index.add(h, i)
	red.live++
	red.due.push(dueEntry{due: hd.due, first: t.UnixNano(), row: i})
	return i, true
}

// newRow returns an empty row, one written before if there is one.
func (s *heldRows) newRow() int32 {
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		return i
	}
	return s.rows.add(heldRow{})
}

// next returns the held row due first, dropping stale entries; -1 when
// none is held.
func (s *heldRows) next() int32 {
	for len(s.due) > 0 {
		i := s.due[0].row
		if !s.rows.at(i).written {
			return i
		}
		s.due.pop()
		s.recycle(i)
	}
	return -1
}

// recycle keeps row i, no longer queued, for reuse, with its memory.
func (s *heldRows) recycle(i int32) {
	h := s.rows.at(i)
	*h = heldRow{buf: h.buf[:0]}
	s.free = append(s.free, i)
}

// release writes held row i and forgets it. Its entry in the queue, unless
// it is the first, stays until it comes up (next skips it); the row is
// reused once the queue no longer names it.
func (r *Recorder) release(i int32) {
	red := &r.reduce.held
	h := red.rows.at(i)
	red.index.remove(h.hash, i)
	red.live--
	e := r.sp.Begin(h.buf[0], h.first)
	e.Encoded(h.text(), int(h.fields)).Uint(min(h.count, 1<<32-1)).Time(h.last)
	r.commit()
	*h = heldRow{written: true, buf: h.buf[:0]}
	if len(red.due) > 0 && red.due[0].row == i {
		red.due.pop()
		red.recycle(i)
	}
}

// releaseDue writes the held rows due by now; with a zero now, all.
func (r *Recorder) releaseDue(now time.Time) {
	red := &r.reduce.held
	for {
		i := red.next()
		if i < 0 || !now.IsZero() && red.rows.at(i).due > now.UnixNano() {
			return
		}
		r.release(i)
	}
}
