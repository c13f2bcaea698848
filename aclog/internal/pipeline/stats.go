package pipeline

import (
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/aclog/internal/capture"
	"github.com/acstore/acstore/aclog/internal/record"
	"github.com/acstore/acstore/internal/logfile"
)

// Snapshot is what the stats line and the metrics show.
type Snapshot struct {
	Source     capture.Stats
	Engine     audit.Stats
	Spool      logfile.SpoolStats
	Record     record.Stats
	RowErrors  uint64
	Truncated  int // capture files that ended early
	BadFiles   int // capture files that could not be read at all
	Skipped    int // capture files skipped: processed before
	PacketTime time.Time
	// Per second over the last interval between two snapshots (about a
	// second while packets come, the read timeout on a quiet link): packets
	// captured, dropped by the kernel (its capture buffer was full) and
	// by the interface (its driver).
	PacketRate, KernelDropRate, IfDropRate float64
	At                                     time.Time // when the snapshot was taken
}

// writeStats are the writing side's counters, copied for the loop's stats
// line by the goroutines that write rows: each recorder's by the one that
// runs it, the spool's by the one that commits rows.
type writeStats struct {
	spool   logfile.SpoolStats
	lanes   []laneWrites // the current recorders', in lane order
	refused uint64       // rows the spool refused that the recorders do not count
}

type laneWrites struct {
	record record.Stats
	errs   uint64 // rows the recorder could not write
}

func (r *run) noteRecord(k int) {
	n, _ := r.recs[k].Errors()
	st := r.recs[k].Stats()
	r.wmu.Lock()
	r.writes.lanes[k] = laneWrites{record: st, errs: n}
	r.wmu.Unlock()
}

func (r *run) noteSpool(refused uint64) {
	st := r.sp.Stats()
	r.wmu.Lock()
	r.writes.spool, r.writes.refused = st, refused
	r.wmu.Unlock()
}

// noteWrites copies every writing counter; call it on the loop's
// goroutine while it holds the recorder and spool (no epoch in flight).
func (r *run) noteWrites() {
	for k := range r.recs {
		r.noteRecord(k)
	}
	r.noteSpool(r.refused())
}

// refused counts the rows the current engine's files goroutine saw the
// spool refuse.
func (r *run) refused() uint64 {
	if s, ok := r.eng.(*shards); ok {
		return s.refused
	}
	return 0
}

// refusedWhy is the last reason a row of the current engine could not be
// written: the spool's, as the files goroutine saw it, or a recorder's.
func (r *run) refusedWhy() error {
	if s, ok := r.eng.(*shards); ok && s.refusedWhy != nil {
		return s.refusedWhy
	}
	return r.recs.lastError()
}

// publishEvery is how often the counters are copied for the stats line and
// metrics, so their per-second rates are of about the last second, not of
// a load interval.
const publishEvery = time.Second

// publish copies the counters for the stats line and metrics.
func (r *run) publish() {
	s := r.snap
	s.Source = r.srcBase
	if r.src != nil {
		s.Source = addStats(r.srcBase, r.src.Stats())
	}
	s.Engine = addEngineStats(r.engBase, r.eng.Stats())
	s.Record, s.RowErrors = r.recBase, r.recErrBase
	r.wmu.Lock()
	for _, l := range r.writes.lanes {
		s.Record = addRecordStats(s.Record, l.record)
		s.RowErrors += l.errs
	}
	s.Spool, s.RowErrors = r.writes.spool, s.RowErrors+r.writes.refused
	r.wmu.Unlock()
	s.PacketTime = r.pktTime
	s.At = time.Now()
	r.published = s.At
	r.p.mu.Lock()
	prev := r.p.snap
	if d := s.At.Sub(prev.At).Seconds(); !prev.At.IsZero() && d >= 0.5 {
		rate := func(a, b uint64) float64 { return float64(a-min(a, b)) / d }
		s.PacketRate = rate(s.Source.Packets, prev.Source.Packets)
		s.KernelDropRate = rate(s.Source.KernelDropped, prev.Source.KernelDropped)
		s.IfDropRate = rate(s.Source.InterfaceDropped, prev.Source.InterfaceDropped)
	} else if !prev.At.IsZero() {
		// Too soon to tell: the last rates stand, measured from then.
		s.PacketRate, s.KernelDropRate, s.IfDropRate, s.At = prev.PacketRate, prev.KernelDropRate, prev.IfDropRate, prev.At
	}
	r.p.snap = s
	r.p.mu.Unlock()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func addStats(a, b capture.Stats) capture.Stats {
	a.Packets += b.Packets
	a.Bytes += b.Bytes
	a.HasKernel = a.HasKernel || b.HasKernel
	a.KernelReceived += b.KernelReceived
	a.KernelDropped += b.KernelDropped
	a.InterfaceDropped += b.InterfaceDropped
	return a
}
