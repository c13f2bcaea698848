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
// minute (F) or window (T), each with an index from its key: no
// allocation per sum, nothing for the GC to follow but the tables, and a
// table written whole when it is due, then cleared and kept for a minute
// or window to come. Apps are numbered (Recorder.appID) so that a key
// holds no strings. A map of pointers to sums keyed by minute, address
// and app cost a fifth of aclog's CPU on short sessions.

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
type flowTable struct {
	minute time.Time
	index  map[flowKey]int32
	rows   blocks[flowSums]
}

type onlineSums struct {
	ip          netip.Addr
	first, last time.Time
	minutes     uint8 // bit i: minute i of the window had traffic
}

// onlineTable is the T rows of one window.
type onlineTable struct {
	window time.Time
	index  map[netip.Addr]int32
	rows   blocks[onlineSums]
}

// sums holds the pending F and T rows.
type sums struct {
	flows  map[time.Time]*flowTable
	online map[time.Time]*onlineTable
	// the table the last sum went to: sessions end in time order
	lastFlow   *flowTable
	lastOnline *onlineTable

	apps    []configtab.App
	appIDs  map[configtab.App]uint32
	lastApp configtab.App
	lastID  uint32

	// tables written, for reuse (emptied when they are taken: a table
	// written at the capture's end is not)
	spareFlows  []*flowTable
	spareOnline []*onlineTable
	// the rows of the table being written, sorted
	flowOrder   []flowSums
	onlineOrder []onlineSums
}

// maxSpareTables bounds the cleared tables kept (each keeps the memory
// of the rows it held).
const maxSpareTables = 6

func newSums() sums {
	return sums{
		flows:  make(map[time.Time]*flowTable),
		online: make(map[time.Time]*onlineTable),
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

// flowRow returns the F sums of key k in minute m, and whether they are
// new.
func (s *sums) flowRow(m time.Time, k flowKey) (*flowSums, bool) {
	t := s.lastFlow
	if t == nil || t.minute != m {
		if t = s.flows[m]; t == nil {
			if n := len(s.spareFlows); n > 0 {
				t = s.spareFlows[n-1]
				s.spareFlows = s.spareFlows[:n-1]
				clear(t.index)
				t.rows.reset()
			} else {
				t = &flowTable{index: make(map[flowKey]int32)}
			}
			t.minute = m
			s.flows[m] = t
		}
		s.lastFlow = t
	}
	if i, ok := t.index[k]; ok {
		return t.rows.at(i), false
	}
	i := t.rows.add(flowSums{flowKey: k})
	t.index[k] = i
	return t.rows.at(i), true
}

// onlineRow returns the T sums of address ip in window w, and whether
// they are new.
func (s *sums) onlineRow(w time.Time, ip netip.Addr) (*onlineSums, bool) {
	t := s.lastOnline
	if t == nil || t.window != w {
		if t = s.online[w]; t == nil {
			if n := len(s.spareOnline); n > 0 {
				t = s.spareOnline[n-1]
				s.spareOnline = s.spareOnline[:n-1]
				clear(t.index)
				t.rows.reset()
			} else {
				t = &onlineTable{index: make(map[netip.Addr]int32)}
			}
			t.window = w
			s.online[w] = t
		}
		s.lastOnline = t
	}
	if i, ok := t.index[ip]; ok {
		return t.rows.at(i), false
	}
	i := t.rows.add(onlineSums{ip: ip})
	t.index[ip] = i
	return t.rows.at(i), true
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
	for i := uint64(0); i < n; i++ {
		m := first.Add(time.Duration(i) * time.Minute)
		f, added := r.sums.flowRow(m, k)
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
	for w := logfile.WindowStart(s.Start); !w.After(end); w = w.Add(logfile.WindowLength) {
		o, added := r.sums.onlineRow(w, ip)
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
	for _, m := range dueKeys(s.flows, due, r.pending) {
		t := s.flows[m]
		r.writeFlows(t)
		delete(s.flows, m)
		if len(s.spareFlows) < maxSpareTables {
			s.spareFlows = append(s.spareFlows, t)
		}
	}
	s.lastFlow = nil
	for _, w := range dueKeys(s.online, due, r.pending) {
		t := s.online[w]
		r.writeOnline(t)
		delete(s.online, w)
		if len(s.spareOnline) < maxSpareTables {
			s.spareOnline = append(s.spareOnline, t)
		}
	}
	s.lastOnline = nil
}

// dueKeys returns the minutes or windows of tables that due says are
// due, oldest first, and notes the others as pending.
func dueKeys[T any](tables map[time.Time]*T, due func(time.Time) bool, pending func(time.Time)) []time.Time {
	var keys []time.Time
	for k := range tables {
		if due(k) {
			keys = append(keys, k)
		} else {
			pending(k)
		}
	}
	slices.SortFunc(keys, time.Time.Compare)
	return keys
}

// writeFlows writes the F rows of a minute by address and app.
func (r *Recorder) writeFlows(t *flowTable) {
	apps := r.sums.apps
	rows := t.rows.appendTo(slices.Grow(r.sums.flowOrder[:0], t.rows.len()))
	slices.SortFunc(rows, func(x, y flowSums) int {
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
	for i := range rows {
		f := &rows[i]
		app := &apps[f.app]
		e := r.sp.Begin('F', t.minute)
		r.who(e, f.ip)
		e.Addr(f.ip).Str(app.Type).Str(app.Name).
			Uint(f.up).Uint(f.down).Uint(f.packets).Uint(uint64(f.sessions))
		r.commit()
	}
	clear(rows)
	r.sums.flowOrder = rows[:0]
}

// writeOnline writes the T rows of a window by address.
func (r *Recorder) writeOnline(t *onlineTable) {
	rows := t.rows.appendTo(slices.Grow(r.sums.onlineOrder[:0], t.rows.len()))
	slices.SortFunc(rows, func(x, y onlineSums) int { return x.ip.Compare(y.ip) })
	for i := range rows {
		o := &rows[i]
		minutes := bits.OnesCount8(o.minutes)
		e := r.sp.Begin('T', t.window)
		r.who(e, o.ip)
		e.Addr(o.ip).Time(o.first).Time(o.last).
			Uint(uint64(minutes)).Uint(uint64(o.last.Sub(o.first).Round(time.Second) / time.Second))
		r.commit()
	}
	clear(rows)
	r.sums.onlineOrder = rows[:0]
}
