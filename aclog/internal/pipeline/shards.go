package pipeline

import (
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/aclog/internal/flowhash"
)

// engine is what the loop drives: one audit.Engine, or shards of them.
type engine interface {
	Packet(lt layers.LinkType, data []byte, ci gopacket.CaptureInfo)
	Flush(now time.Time)
	Restart(at time.Time)
	Close()
	Stats() audit.Stats
}

// Sharding: packets are given to workers by flowhash, a hash of their two
// IP addresses, the same whichever way a packet goes (and the same as an
// AF_PACKET live capture's fanout), so that both directions
// of a session, every fragment of a datagram, and what ties sessions
// between two hosts (an FTP data connection to its control connection, a
// TFTP transfer to its request, a DNS response to its query) meet in one
// engine. Each worker runs its own engine; their events go to the lanes
// (lanes.go), recorders that each write the rows of some clients, and the
// rows to one files goroutine, which alone commits them to the spool.
//
// Four stages run at once: the loop reads packets and hands them over in
// batches; the workers parse them; the lanes write rows; the files
// goroutine commits them. Every epoch (4096 packets, a flush, a restart,
// the end) the loop puts a marker in every worker's input and queues a job
// for every lane and one for the files goroutine. A worker answers each
// marker with the events of its epoch, one list per lane; a lane takes
// them worker by worker, in worker order, and then runs the job's periodic
// work (windows closed by packet time, flushes); the files goroutine
// commits the epoch's rows, a batch from each lane in turn, then runs its
// work on the spool.
// Channels of fixed size between the stages bound what is in flight: a
// stage that falls behind stops the one before it. Every stage takes
// epochs in the order the loop made them, so none waits for one that
// waits for it.

const batchPackets = 256

// pktRef is a packet in a batch: where its bytes are and what the engine
// reads of its gopacket.CaptureInfo, the time in numbers (its location is
// the batch's). It holds no pointer, and is less than half the size of a
// CaptureInfo: the workers read every one the loop wrote, on another
// core, and the garbage collector need not scan them.
type pktRef struct {
	off, n         int32
	nsec           int32
	sec            int64
	length, capLen int
}

type batch struct {
	lt     layers.LinkType
	loc    *time.Location // of the packets' times
	buf    []byte
	pkts   []pktRef
	marker *marker // after the packets, when not nil
}

// captureInfo returns p's capture info: all the engine reads of it.
func (b *batch) captureInfo(p *pktRef) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: time.Unix(p.sec, int64(p.nsec)).In(b.loc), CaptureLength: p.capLen, Length: p.length}
}

type markerKind uint8

const (
	markEpoch markerKind = iota
	markFlush
	markRestart
	markClose
)

type marker struct {
	kind markerKind
	at   time.Time
	// last is the latest packet time the loop has seen: every engine
	// sweeps at it first, so that what has timed out by then ends the same
	// way whichever engine holds it (and however many there are).
	last time.Time
}

// epoch is what a worker did between two markers, for one lane.
type epoch struct {
	events *laneEvents
	stats  audit.Stats
}

type worker struct {
	eng  *audit.Engine
	sink *collector
	in   chan *batch
	out  []chan epoch // one per lane
	free chan *batch
	cur  *batch
}

type shards struct {
	workers []*worker
	lanes   []*lane
	last    time.Time // latest packet time handed over
	applied time.Time // packet time up to which the epochs queued apply events
	closed  bool

	fileJobs chan func() // per epoch: the spool's work after its rows
	stopped  chan struct{}
	// Rows the spool refused and the last reason, as a recorder keeps
	// them with one worker; the files goroutine's.
	refused    uint64
	refusedWhy error

	mu    sync.Mutex
	stats []audit.Stats // each worker's counters as of its last epoch applied
}

// newShards starts n workers and a lane for each of sinks, each lane's
// sink writing its rows to the batcher of the same index in rows (nil: no
// rows written), and the files goroutine that commits them.
func newShards(cfg audit.Config, n int, sinks []audit.Sink, rows []*batcher) (*shards, error) {
	// The caps are for the whole: each engine gets its share.
	cfg.MaxSessions = max(1, cfg.MaxSessions/n)
	cfg.MaxFragments = max(1, cfg.MaxFragments/n)
	cfg.MaxBufferedPagesTotal = max(cfg.MaxBufferedPagesPerConn, cfg.MaxBufferedPagesTotal/n)
	s := &shards{stats: make([]audit.Stats, n), fileJobs: make(chan func(), chunks), stopped: make(chan struct{})}
	for k, sink := range sinks {
		l := &lane{sink: sink, jobs: make(chan laneJob, chunks)}
		if rows != nil {
			l.rows = rows[k]
		} else {
			l.rows = newBatcher(nil)
		}
		s.lanes = append(s.lanes, l)
	}
	for range n {
		c := newCollector(len(sinks))
		eng, err := audit.New(cfg, c)
		if err != nil {
			return nil, err
		}
		w := &worker{eng: eng, sink: c, in: make(chan *batch, 16), free: make(chan *batch, 18)}
		for range sinks {
			w.out = append(w.out, make(chan epoch, 2))
		}
		for range 17 {
			w.free <- &batch{buf: make([]byte, 0, 256<<10), pkts: make([]pktRef, 0, batchPackets)}
		}
		s.workers = append(s.workers, w)
		go w.run()
	}
	for k := range s.lanes {
		go s.runLane(k)
	}
	go s.files(s.stopped)
	return s, nil
}

func (w *worker) run() {
	for b := range w.in {
		for i := range b.pkts {
			p := &b.pkts[i]
			w.eng.Packet(b.lt, b.buf[p.off:p.off+p.n], b.captureInfo(p))
		}
		if m := b.marker; m != nil {
			if !m.last.IsZero() {
				w.eng.Flush(m.last)
			}
			switch m.kind {
			case markFlush:
				w.eng.Flush(m.at)
			case markRestart:
				w.eng.Restart(m.at)
			case markClose:
				w.eng.Close()
			}
			st := w.eng.Stats()
			for k, ev := range w.sink.take() {
				w.out[k] <- epoch{events: ev, stats: st}
			}
		}
		b.buf, b.pkts, b.marker = b.buf[:0], b.pkts[:0], nil
		w.free <- b
	}
	for _, out := range w.out {
		close(out)
	}
}

// Packet hands the packet to its worker.
func (s *shards) Packet(lt layers.LinkType, data []byte, ci gopacket.CaptureInfo) {
	w := s.workers[flowhash.Shard(lt, data, len(s.workers))]
	b := w.cur
	loc := ci.Timestamp.Location()
	if b == nil || b.lt != lt || b.loc != loc || len(b.pkts) == batchPackets || len(b.buf)+len(data) > cap(b.buf) && len(b.pkts) > 0 {
		if b != nil {
			w.in <- b
		}
		b = <-w.free
		b.lt, b.loc = lt, loc
		w.cur = b
	}
	if ci.Timestamp.After(s.last) {
		s.last = ci.Timestamp
	}
	b.pkts = append(b.pkts, pktRef{off: int32(len(b.buf)), n: int32(len(data)), sec: ci.Timestamp.Unix(),
		nsec: int32(ci.Timestamp.Nanosecond()), length: ci.Length, capLen: ci.CaptureLength})
	b.buf = append(b.buf, data...)
}

// mark ends the current epoch of every worker with m.
func (s *shards) mark(m marker) {
	for _, w := range s.workers {
		b := w.cur
		if b == nil {
			b = <-w.free
		}
		w.cur = nil
		mm := m
		b.marker = &mm
		w.in <- b
	}
}

// direct says whether the lanes' rows go to the spool directly (the
// loop's goroutine holds the recorders and the spool) or to the files
// goroutine.
func (s *shards) direct(on bool) {
	for _, l := range s.lanes {
		l.rows.direct = on
	}
}

// sync ends the epoch with m and queues its events for the lanes, then
// rec and files (when not nil) with the packet time up to which events
// are applied: rec on each lane's goroutine with its index, files on the
// files goroutine once the lanes' rows are committed.
func (s *shards) sync(m marker, rec func(lane int, applied time.Time), files func(applied time.Time)) {
	s.direct(false)
	s.mark(m)
	if !m.at.IsZero() {
		s.applied = m.at
	}
	applied := s.applied
	for _, l := range s.lanes {
		l.jobs <- laneJob{apply: true, applied: applied, rec: rec}
	}
	var then func()
	if files != nil {
		then = func() { files(applied) }
	}
	s.fileJobs <- then
}

// wait returns once the lanes and the files goroutine have done every
// job queued: then the loop's goroutine may use the sinks and the spool.
func (s *shards) wait() {
	for _, l := range s.lanes {
		l.jobs <- laneJob{}
	}
	done := make(chan struct{})
	s.fileJobs <- func() { close(done) }
	<-done
	s.direct(true)
}

// Epoch is called by the loop for its periodic work: rec runs on each
// lane's goroutine once the events of the epoch it ends are applied, and
// files on the files goroutine after the rows written so far are
// committed, both with the packet time up to which rows are written. Once
// the shards are closed, both run at once, rec for every lane in order.
func (s *shards) Epoch(now time.Time, rec func(lane int, applied time.Time), files func(applied time.Time)) {
	if s.closed {
		for k := range s.lanes {
			rec(k, s.applied)
		}
		files(s.applied)
		return
	}
	s.sync(marker{kind: markEpoch, at: now, last: s.last}, rec, files)
}

func (s *shards) Flush(now time.Time) {
	if s.closed {
		return
	}
	if now.After(s.last) {
		s.last = now
	}
	s.sync(marker{kind: markFlush, at: now, last: s.last}, nil, nil)
}

// Restart ends everything open in every engine and returns once their
// events are written.
func (s *shards) Restart(at time.Time) {
	if s.closed {
		return
	}
	s.sync(marker{kind: markRestart, at: at, last: s.last}, nil, nil)
	s.wait()
	s.applied, s.last = at, at
}

// Close ends every engine, writes what they emitted and stops the workers,
// the lanes and the files goroutine.
func (s *shards) Close() { s.CloseWith(nil) }

// CloseWith is Close running last (when not nil) on each lane's goroutine
// with its index after the engines' last events; when closed already, at
// once for every lane in order.
func (s *shards) CloseWith(last func(lane int)) {
	if s.closed {
		if last != nil {
			for k := range s.lanes {
				last(k)
			}
		}
		return
	}
	var rec func(int, time.Time)
	if last != nil {
		rec = func(k int, _ time.Time) { last(k) }
	}
	s.sync(marker{kind: markClose, last: s.last}, rec, nil)
	for _, l := range s.lanes {
		close(l.jobs)
	}
	close(s.fileJobs)
	<-s.stopped
	s.direct(true)
	for _, w := range s.workers {
		close(w.in)
	}
	s.closed = true
}

// Stats sums the workers' counters as of the last epoch applied.
func (s *shards) Stats() audit.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t audit.Stats
	for _, st := range s.stats {
		t = addEngineStats(t, st)
	}
	return t
}
