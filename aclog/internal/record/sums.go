package record

import (
	"cmp"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/internal/configtab"
	"github.com/acstore/acstore/internal/logfile"
)

// The F and T sums are kept in tables of rows by value, one table per
// minute (F) or window (T), each with an index from a hash of its key
// (index: a Go map keyed by a netip.Addr hashes it by the slow generic
// path): no allocation per sum, nothing for the GC to follow but the
// tables, and a table written whole when it is due, then cleared and kept
// for a minute or window to come. Apps are numbered (Recorder.appID) so
// that a key holds no strings. A map of pointers to sums keyed by minute,
// address and app cost a fifth of aclog's CPU on short sessions.

// flowKey is one F row within its minute: an address and an app.
type flowKey struct {
	ip  netip.Addr
	app uint32 // index in sums.apps
}

type flowSums struct {
	flowKey
	up, down, packets uint64
	sessions          uint32
}

// flowTable is the F rows of one minute.
type flowTable = sumTable[flowSums]

type onlineSums struct {
	ip          netip.Addr
	first, last time.Time
	minutes     uint8 // bit i: minute i of the window had traffic
}

// onlineTable is the T rows of one window.
type onlineTable = sumTable[onlineSums]

// sumTable is the rows of one minute (F) or window (T), with an index
// from their keys.
type sumTable[V any] struct {
	at    time.Time // the minute or window
	index index
	rows  blocks[V]
}

// sumTables is the pending tables of one kind of sum by minute or window,
// and the written ones kept for reuse.
type sumTables[V any] struct {
	byTime map[time.Time]*sumTable[V]
	last   *sumTable[V] // the table the last sum went to: sessions end in time order
	// tables written, for reuse (emptied when they are taken: a table
	// written at the capture's end is not)
	spare []*sumTable[V]
}

// sums holds the pending F and T rows.
type sums struct {
	flows  sumTables[flowSums]
	online sumTables[onlineSums]
	hash   keyHash

	apps    []configtab.App
	appIDs  map[configtab.App]uint32
	lastApp configtab.App
	lastID  uint32
	// the rows of the table being written, sorted
	order []sumRef
}

// maxSpareTables bounds the cleared tables kept (each keeps the memory
// of the rows it held).
const maxSpareTables = 6

func newSums() sums {
	return sums{
		flows:  sumTables[flowSums]{byTime: make(map[time.Time]*flowTable)},
		online: sumTables[onlineSums]{byTime: make(map[time.Time]*onlineTable)},
		hash:   newKeyHash(),
		appIDs: make(map[configtab.App]uint32),
	}
}

// appID numbers app.
func (s *sums) appID(app configtab.App) uint32 {
	if app == s.lastApp && len(s.apps) > 0 {
		return s.lastID
	}
	id, ok := s.appIDs[app]
	if !ok {
		id = uint32(len(s.apps))
		s.apps = append(s.apps, app)
		s.appIDs[app] = id
	}
	s.lastApp, s.lastID = app, id
	return id
}

// row returns the sums at time at (a minute or window) of the key that
// hashes to h and that has says a row has, and whether they are new: zero,
// added.
func (ts *sumTables[V]) row(at time.Time, h uint32, has func(*V) bool, zero V) (*V, bool) {
	t := ts.last
	if t == nil || t.at != at {
		if t = ts.byTime[at]; t == nil {
			t = ts.take()
			t.at = at
			ts.byTime[at] = t
		}
		ts.last = t
	}
	if i, ok := t.index.find(h, func(i int32) bool { return has(t.rows.at(i)) }); ok {
		return t.rows.at(i), false
	}
	i := t.rows.add(zero)
	t.index.add(h, i)
	return t.rows.at(i), true
}

// take returns an empty table, a spare one if there is one.
func (ts *sumTables[V]) take() *sumTable[V] {
	if n := len(ts.spare); n > 0 {
		t := ts.spare[n-1]
		ts.spare = ts.spare[:n-1]
		t.index.reset()
		t.rows.reset()
		return t
	}
	return &sumTable[V]{}
}

// takeDue removes the tables that due says are due and returns them,
// oldest first; it notes the others as pending.
func (ts *sumTables[V]) takeDue(due func(time.Time) bool, pending func(time.Time)) []*sumTable[V] {
	var out []*sumTable[V]
	for at, t := range ts.byTime {
		if due(at) {
			out = append(out, t)
			delete(ts.byTime, at)
		} else {
			pending(at)
		}
	}
	ts.last = nil
	slices.SortFunc(out, func(a, b *sumTable[V]) int { return a.at.Compare(b.at) })
	return out
}

// keep keeps a written table for a minute or window to come.
func (ts *sumTables[V]) keep(t *sumTable[V]) {
	if len(ts.spare) < maxSpareTables {
		ts.spare = append(ts.spare, t)
	}
}

// addFlow spreads the session's bytes and packets evenly over the minutes
// it spans (the engine reports sessions, not packets), the remainder in the
// last minute so the sums stay exact; the session counts in its first.
func (r *Recorder) addFlow(s *audit.Session, app configtab.App) {
	first := s.Start.Truncate(time.Minute)
	last := s.End.Truncate(time.Minute)
	if last.Before(first) {
		last = first
	}
	n := uint64(last.Sub(first)/time.Minute) + 1
	up, down, pkts := s.ClientBytes, s.ServerBytes, s.ClientPackets+s.ServerPackets
	k := flowKey{ip: s.Client.Addr(), app: r.sums.appID(app)}
	h := r.sums.hash.addr(k.ip, k.app)
	has := func(f *flowSums) bool { return f.flowKey == k }
	for i := uint64(0); i < n; i++ {
		m := first.Add(time.Duration(i) * time.Minute)
		f, added := r.sums.flows.row(m, h, has, flowSums{flowKey: k})
		if added {
			r.pending(m)
		}
		f.up += up / n
		f.down += down / n
		f.packets += pkts / n
		if i == n-1 {
			f.up += up % n
			f.down += down % n
			f.packets += pkts % n
		}
		if i == 0 {
			f.sessions++
		}
	}
}

// addOnline marks the minutes of each window the session was active in.
func (r *Recorder) addOnline(s *audit.Session) {
	end := s.End
	if end.Before(s.Start) {
		end = s.Start
	}
	ip := s.Client.Addr()
	h := r.sums.hash.addr(ip, 0)
	has := func(o *onlineSums) bool { return o.ip == ip }
	for w := logfile.WindowStart(s.Start); !w.After(end); w = w.Add(logfile.WindowLength) {
		o, added := r.sums.online.row(w, h, has, onlineSums{ip: ip})
		from, to := maxTime(s.Start, w), minTime(end, w.Add(logfile.WindowLength-time.Nanosecond))
		if added {
			o.first, o.last = from, to
			r.pending(w)
		}
		o.first, o.last = minTime(o.first, from), maxTime(o.last, to)
		for m := from.Truncate(time.Minute); !m.After(to); m = m.Add(time.Minute) {
			o.minutes |= 1 << uint(m.Sub(w)/time.Minute)
		}
	}
}

// emit writes the F rows of the minutes and the T rows of the windows
// due says are due, in the order of their minute or window, address and
// app (the same capture gives the same files), and notes what stays
// pending.
func (r *Recorder) emit(due func(time.Time) bool) {
	r.due = time.Time{}
	s := &r.sums
	for _, t := range s.flows.takeDue(due, r.pending) {
		r.writeFlows(t)
		s.flows.keep(t)
	}
	for _, t := range s.online.takeDue(due, r.pending) {
		r.writeOnline(t)
		s.online.keep(t)
	}
}

// writeFlows writes the F rows of a minute by address and app.
func (r *Recorder) writeFlows(t *flowTable) {
	apps := r.sums.apps
	r.sums.order = sortedRows(r.sums.order, t, func(f *flowSums) netip.Addr { return f.ip }, func(x, y *flowSums) int {
		if c := x.ip.Compare(y.ip); c != 0 || x.app == y.app {
			return c
		}
		// The whole app (name, type, kind, rule): two rules naming the
		// same app are two keys, and an order that ties them would differ
		// from run to run, and with it the rows' ids.
		a, b := &apps[x.app], &apps[y.app]
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Type, b.Type),
			strings.Compare(a.Kind, b.Kind), strings.Compare(a.Rule, b.Rule))
	})
	for _, ref := range r.sums.order {
		f := t.rows.at(ref.row)
		app := &apps[f.app]
		e := r.sp.Begin('F', t.at)
		r.who(e, f.ip)
		e.Addr(f.ip).Str(app.Type).Str(app.Name).
			Uint(f.up).Uint(f.down).Uint(f.packets).Uint(uint64(f.sessions))
		r.commit()
	}
}

// writeOnline writes the T rows of a window by address.
func (r *Recorder) writeOnline(t *onlineTable) {
	r.sums.order = sortedRows(r.sums.order, t, func(o *onlineSums) netip.Addr { return o.ip },
		func(x, y *onlineSums) int { return x.ip.Compare(y.ip) })
	for _, ref := range r.sums.order {
		o := t.rows.at(ref.row)
		minutes := bits.OnesCount8(o.minutes)
		e := r.sp.Begin('T', t.at)
		r.who(e, o.ip)
		e.Addr(o.ip).Time(o.first).Time(o.last).
			Uint(uint64(minutes)).Uint(uint64(o.last.Sub(o.first).Round(time.Second) / time.Second))
		r.commit()
	}
}
