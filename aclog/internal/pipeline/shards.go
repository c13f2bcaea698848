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
// engine. Each worker runs its own engine; their events go to one writer
// goroutine, which alone writes rows, so F and T sums are made in one place
// and row order (hence ids) depends only on the capture.
//
// Three stages run at once: the loop reads packets and hands them over in
// batches; the workers parse them; the writer writes rows. Every epoch
// (4096 packets, a flush, a restart, the end) the loop puts a marker in
// every worker's input and queues a job for the writer. A worker answers
// each marker with the events of its epoch; the writer takes an epoch's
// events worker by worker, in worker order, and then runs the job's
// periodic work (windows closed by packet time, flushes). Channels of
// fixed size between the stages bound what is in flight: a stage that
// falls behind stops the one before it.

const batchPackets = 256

type pktRef struct {
	off, n int
	ci     gopacket.CaptureInfo
}

type batch struct {
	lt     layers.LinkType
	buf    []byte
	pkts   []pktRef
	marker *marker // after the packets, when not nil
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

// epoch is what a worker did between two markers.
type epoch struct {
	events []any
	stats  audit.Stats
}

type worker struct {
	eng  *audit.Engine
	sink *collector
	in   chan *batch
	out  chan epoch
	free chan *batch
	cur  *batch
}

type shards struct {
	sink    audit.Sink
	workers []*worker
	last    time.Time // latest packet time handed over
	closed  bool

	// The writer: it runs jobs in order, each after applying the epoch
	// marked before it was queued. Behind it the files goroutine commits
	// the rows it batched (rows; nil when the sink writes no rows).
	jobs    chan func()
	stopped chan struct{}
	applied time.Time // packet time up to which events are applied; the writer's
	rows    *batcher
	refused uint64 // rows the spool refused; the files goroutine's

	mu    sync.Mutex
	stats []audit.Stats // each worker's counters as of its last epoch applied
}

// newShards starts n workers and the writer; rows, when not nil, is what
// sink writes its rows to, and a files goroutine commits them.
func newShards(cfg audit.Config, sink audit.Sink, n int, rows *batcher) (*shards, error) {
	// The caps are for the whole: each engine gets its share.
	cfg.MaxSessions = max(1, cfg.MaxSessions/n)
	cfg.MaxFragments = max(1, cfg.MaxFragments/n)
	cfg.MaxBufferedPagesTotal = max(cfg.MaxBufferedPagesPerConn, cfg.MaxBufferedPagesTotal/n)
	s := &shards{sink: sink, stats: make([]audit.Stats, n), jobs: make(chan func(), 4), stopped: make(chan struct{}), rows: rows}
	if rows == nil {
		s.rows = newBatcher(nil)
	}
	for range n {
		c := &collector{}
		eng, err := audit.New(cfg, c)
		if err != nil {
			return nil, err
		}
		w := &worker{eng: eng, sink: c, in: make(chan *batch, 16), out: make(chan epoch, 2), free: make(chan *batch, 18)}
		for range 17 {
			w.free <- &batch{buf: make([]byte, 0, 256<<10), pkts: make([]pktRef, 0, batchPackets)}
		}
		s.workers = append(s.workers, w)
		go w.run()
	}
	files := make(chan struct{})
	go s.rows.files(&s.refused, files)
	go s.write(files)
	return s, nil
}

// write is the writer goroutine; once it ends, the files goroutine ends.
func (s *shards) write(files <-chan struct{}) {
	for job := range s.jobs {
		job()
	}
	close(s.rows.out)
	<-files
	close(s.stopped)
}

func (w *worker) run() {
	for b := range w.in {
		for _, p := range b.pkts {
			w.eng.Packet(b.lt, b.buf[p.off:p.off+p.n], p.ci)
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
			w.out <- epoch{events: w.sink.take(), stats: w.eng.Stats()}
		}
		b.buf, b.pkts, b.marker = b.buf[:0], b.pkts[:0], nil
		w.free <- b
	}
	close(w.out)
}

// Packet hands the packet to its worker.
func (s *shards) Packet(lt layers.LinkType, data []byte, ci gopacket.CaptureInfo) {
	w := s.workers[flowhash.Shard(lt, data, len(s.workers))]
	b := w.cur
	if b == nil || b.lt != lt || len(b.pkts) == batchPackets || len(b.buf)+len(data) > cap(b.buf) && len(b.pkts) > 0 {
		if b != nil {
			w.in <- b
		}
		b = <-w.free
		b.lt = lt
		w.cur = b
	}
	if ci.Timestamp.After(s.last) {
		s.last = ci.Timestamp
	}
	b.pkts = append(b.pkts, pktRef{off: len(b.buf), n: len(data), ci: ci})
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

// apply writes the events of the oldest epoch not applied, worker by
// worker, on the writer goroutine; at is its marker's time.
func (s *shards) apply(at time.Time) {
	for i, w := range s.workers {
		ep := <-w.out
		for _, ev := range ep.events {
			deliver(s.sink, ev)
		}
		s.mu.Lock()
		s.stats[i] = ep.stats
		s.mu.Unlock()
	}
	if !at.IsZero() {
		s.applied = at
	}
}

// sync ends the epoch with m and queues for the writer its events, then
// rec and files (when not nil) with the packet time up to which events
// are applied: rec on the writer goroutine, files on the files goroutine
// once the rows written before it are committed.
func (s *shards) sync(m marker, rec, files func(applied time.Time)) {
	s.rows.direct = false
	s.mark(m)
	s.jobs <- func() {
		s.apply(m.at)
		applied := s.applied
		if rec != nil {
			rec(applied)
		}
		var then func()
		if files != nil {
			then = func() { files(applied) }
		}
		s.rows.handoff(then)
	}
}

// wait returns once the writer and the files goroutine have done every
// job queued: then the loop's goroutine may use the sink and the spool.
func (s *shards) wait() {
	done := make(chan struct{})
	s.jobs <- func() { s.rows.handoff(func() { close(done) }) }
	<-done
	s.rows.direct = true
}

// Epoch is called by the loop for its periodic work: rec runs on the
// writer goroutine once the events of the epoch it ends are applied, and
// files on the files goroutine after the rows written so far are
// committed, both with the packet time up to which rows are written. Once
// the shards are closed, both run at once.
func (s *shards) Epoch(now time.Time, rec, files func(applied time.Time)) {
	if s.closed {
		rec(s.applied)
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
// the writer and the files goroutine.
func (s *shards) Close() { s.CloseWith(nil) }

// CloseWith is Close running last (when not nil) on the writer goroutine
// after the engines' last events; when closed already, at once.
func (s *shards) CloseWith(last func()) {
	if s.closed {
		if last != nil {
			last()
		}
		return
	}
	var rec func(time.Time)
	if last != nil {
		rec = func(time.Time) { last() }
	}
	s.sync(marker{kind: markClose, last: s.last}, rec, nil)
	close(s.jobs)
	<-s.stopped
	s.rows.direct = true
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

// collector is a worker's sink: events wait for the loop.
type collector struct{ events []any }

func (c *collector) take() []any {
	ev := c.events
	c.events = nil
	return ev
}

func (c *collector) Session(v *audit.Session)       { c.events = append(c.events, v) }
func (c *collector) HTTP(v *audit.HTTPRequest)      { c.events = append(c.events, v) }
func (c *collector) DNS(v *audit.DNSQuery)          { c.events = append(c.events, v) }
func (c *collector) TLS(v *audit.TLSHandshake)      { c.events = append(c.events, v) }
func (c *collector) Mail(v *audit.Mail)             { c.events = append(c.events, v) }
func (c *collector) Credential(v *audit.Credential) { c.events = append(c.events, v) }
func (c *collector) File(v *audit.FileTransfer)     { c.events = append(c.events, v) }
func (c *collector) Post(v *audit.Post)             { c.events = append(c.events, v) }
func (c *collector) Chat(v *audit.Chat)             { c.events = append(c.events, v) }

// deliver passes a collected event to sink.
func deliver(sink audit.Sink, ev any) {
	switch v := ev.(type) {
	case *audit.Session:
		sink.Session(v)
	case *audit.HTTPRequest:
		sink.HTTP(v)
	case *audit.DNSQuery:
		sink.DNS(v)
	case *audit.TLSHandshake:
		sink.TLS(v)
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
