package record

import (
	"container/heap"
	"mime"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/internal/configtab"
	"github.com/acstore/acstore/internal/logfile"
)

// reducer is the log reduction's state: the rules, compiled, and the U and
// Q rows held back while repeats are folded into them.
type reducer struct {
	cfg   ReduceConfig
	exts  map[string]bool
	types []string // media types; "image/" (from "image/*") matches a prefix
	held  map[reduceKey]*held
	due   heldQueue
	spare []*held // written, for reuse
	// typeMemo remembers staticType's answers by Content-Type
	typeMemo map[string]bool
}

// The Content-Types typeMemo keeps, at most, and the longest it keeps.
const (
	maxTypeMemo    = 256
	maxTypeMemoLen = 128
)

func newReducer(cfg ReduceConfig) reducer {
	r := reducer{cfg: cfg, exts: make(map[string]bool), held: make(map[reduceKey]*held), typeMemo: make(map[string]bool)}
	for _, e := range cfg.StaticExts {
		r.exts["."+strings.TrimPrefix(strings.ToLower(e), ".")] = true
	}
	for _, t := range cfg.StaticTypes {
		r.types = append(r.types, strings.TrimSuffix(strings.ToLower(t), "*"))
	}
	return r
}

// folds reports whether repeats of table are folded.
func (r *reducer) folds(table byte) bool {
	return r.cfg.Enabled && r.cfg.RepeatWindow > 0 && strings.IndexByte(r.cfg.Tables, table) >= 0
}

// reduceKey is what makes rows repeats: the table, the client, and the
// request (U: method, host, URI; Q: name, transport, type), kept in fields
// so that no key is built per row.
type reduceKey struct {
	table   byte
	ip      netip.Addr
	a, b, c string
	n       uint16
}

// held is a U or Q row kept back while the repeats that follow are folded
// into it. It is written, with their count and the last one's time, when
// its fold window ends, and never later than the end of its 5-minute
// window, so it lands in its window's sync_file before that is published.
// It is kept as the text of its fields before the count, not as the event
// (with all it points to: a fifth of the heap at 10k sessions/s).
type held struct {
	key         reduceKey
	first, last time.Time
	due         int64 // Unix nanoseconds
	count       uint64
	written     bool // released before it was due: its entry in the queue is stale

	text   []byte // its fields after the time, before the count; kept on reuse
	fields int
}

// heldQueue orders the held rows by when they are due (container/heap).
// An entry carries what it is ordered by, so that ordering reads no held
// row; a row released before it is due leaves its entry, skipped when it
// comes up.
type heldQueue []dueEntry

type dueEntry struct {
	due, first int64 // Unix nanoseconds
	h          *held
}

func (q heldQueue) Len() int { return len(q) }
func (q heldQueue) Less(i, j int) bool {
	if q[i].due != q[j].due {
		return q[i].due < q[j].due
	}
	return q[i].first < q[j].first // the same capture gives the same files
}
func (q heldQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *heldQueue) Push(x any)   { *q = append(*q, x.(dueEntry)) }
func (q *heldQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = dueEntry{}
	*q = old[:len(old)-1]
	return e
}

// next returns the held row due first, dropping stale entries; nil when
// none is held.
func (r *reducer) next() *held {
	for len(r.due) > 0 {
		h := r.due[0].h
		if !h.written {
			return h
		}
		heap.Pop(&r.due)
		r.recycle(h)
	}
	return nil
}

// recycle keeps a held row no longer queued for reuse, with its text's
// memory.
func (r *reducer) recycle(h *held) {
	*h = held{text: h.text[:0]}
	r.spare = append(r.spare, h)
}

// staticResource reports whether the static rule drops the request: a GET
// or HEAD whose response type or path extension is a configured one.
func (r *reducer) staticResource(h *audit.HTTPRequest) bool {
	if !r.cfg.Enabled || !r.cfg.Static || strings.IndexByte(r.cfg.Tables, 'U') < 0 {
		return false
	}
	if h.Method != "GET" && h.Method != "HEAD" {
		return false
	}
	if h.ContentType != "" && r.staticType(h.ContentType) {
		return true
	}
	u := h.URI
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return r.exts[strings.ToLower(path.Ext(u))]
}

// staticType reports whether the media type of Content-Type ct is a
// static one. The answers are remembered: responses repeat a few types,
// and parsing one allocates.
func (r *reducer) staticType(ct string) bool {
	if v, ok := r.typeMemo[ct]; ok {
		return v
	}
	mt, _, _ := mime.ParseMediaType(ct)
	v := false
	for _, t := range r.types {
		if mt == t || strings.HasSuffix(t, "/") && strings.HasPrefix(mt, t) {
			v = true
			break
		}
	}
	if len(ct) <= maxTypeMemoLen {
		if len(r.typeMemo) >= maxTypeMemo {
			clear(r.typeMemo)
		}
		r.typeMemo[ct] = v
	}
	return v
}

// foldHTTP holds or folds a U row; false means write it now.
func (r *Recorder) foldHTTP(h *audit.HTTPRequest, app configtab.App) bool {
	if !r.reduce.folds('U') {
		return false
	}
	k := reduceKey{table: 'U', ip: h.Client.Addr(), a: h.Method, b: h.Host, c: h.URI}
	hd, ok := r.fold(k, h.Time)
	if hd != nil {
		r.holdEnc.Reset()
		r.encodeU(&r.holdEnc, h, app)
		hd.hold(&r.holdEnc)
	}
	return ok
}

// foldDNS holds or folds a Q row; false means write it now.
func (r *Recorder) foldDNS(q *audit.DNSQuery) bool {
	if !r.reduce.folds('Q') {
		return false
	}
	k := reduceKey{table: 'Q', ip: q.Client.Addr(), a: q.Name, b: q.Transport.String(), n: q.QType}
	hd, ok := r.fold(k, q.Time)
	if hd != nil {
		r.holdEnc.Reset()
		r.encodeQ(&r.holdEnc, q)
		hd.hold(&r.holdEnc)
	}
	return ok
}

// hold keeps the fields e encoded.
func (h *held) hold(e *logfile.Encoder) {
	h.text, h.fields = append(h.text[:0], e.Bytes()...), e.Fields()
}

// fold counts a row at t into the row held for k when it falls in that
// row's fold window, or holds it as a new one, returned for the caller to
// give its event. It returns false for a row to write at once: one older
// than the row held for its key (a late event), which is not a repeat of
// it.
func (r *Recorder) fold(k reduceKey, t time.Time) (*held, bool) {
	red := &r.reduce
	if h, ok := red.held[k]; ok {
		if t.Before(h.first) {
			return nil, false
		}
		if t.UnixNano() < h.due {
			h.count++
			h.last = maxTime(h.last, t)
			r.stats.Reduced["repeat-"+string(k.table)]++
			return nil, true
		}
		r.release(h)
	}
	if len(red.held) >= r.reduce.cfg.MaxTracked {
		// Memory stays bounded: the rows due first are written early,
		// which only ends their folding sooner.
		for len(red.held) >= r.reduce.cfg.MaxTracked/2 {
			h := red.next()
			if h == nil {
				break
			}
			r.release(h)
		}
	}
	h := red.newHeld()
	h.key, h.first, h.last, h.count = k, t, t, 1
	h.due = minTime(t.Add(red.cfg.RepeatWindow), logfile.WindowStart(t).Add(logfile.WindowLength)).UnixNano()
	red.held[k] = h
	heap.Push(&red.due, dueEntry{due: h.due, first: t.UnixNano(), h: h})
	return h, true
}

// newHeld returns a held row, one written before if there is one.
func (r *reducer) newHeld() *held {
	if n := len(r.spare); n > 0 {
		h := r.spare[n-1]
		r.spare = r.spare[:n-1]
		return h
	}
	return &held{}
}

// release writes a held row and forgets it. Its entry in the queue, unless
// it is the first, stays until it comes up (next skips it); the row is
// kept for reuse once the queue no longer points at it.
func (r *Recorder) release(h *held) {
	red := &r.reduce
	delete(red.held, h.key)
	e := r.sp.Begin(h.key.table, h.first)
	e.Encoded(h.text, h.fields).Uint(min(h.count, 1<<32-1)).Time(h.last)
	r.commit()
	*h = held{written: true, text: h.text[:0]}
	if len(red.due) > 0 && red.due[0].h == h {
		heap.Pop(&red.due)
		red.recycle(h)
	}
}

// releaseDue writes the held rows due by now; with a zero now, all.
func (r *Recorder) releaseDue(now time.Time) {
	for {
		h := r.reduce.next()
		if h == nil || !now.IsZero() && h.due > now.UnixNano() {
			return
		}
		r.release(h)
	}
}
