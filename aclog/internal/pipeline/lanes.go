package pipeline

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
)

// Lanes: with several workers the recorder's work (rows, U and Q folding,
// F and T sums) is split too, into lanes of one recorder each, by client
// address. Everything a recorder keeps from event to event is of one
// client: the app a connection's host named, the U and Q rows held for
// folding (their keys start with the client), the F and T sums (per
// client). So a client's sessions, requests and queries all go to one lane
// and each sum is made whole in one place, never split or doubled, though
// the workers share a client's sessions by flow. Mail, file transfers,
// posts, credentials and chat go to lane 0: it alone keeps the windows'
// attachment bundles (X), which are per window, not per client.
//
// A lane takes an epoch's events worker by worker, in worker order, and
// makes the text of its rows into batches, cut where they reach
// batchBytes; the files goroutine commits an epoch's batches a batch from
// each lane in turn, in lane order, then runs the epoch's work on the
// spool. Where a batch is cut depends only on the rows before it, so the
// order rows are committed in, hence their ids, depends on the capture
// alone, never on which goroutine ran first. Taking the lanes in turn, not
// one lane's epoch whole before the next's, keeps every lane writing when
// an epoch has more rows than the batches in flight hold (a capture's
// end: every sum, every session still open).

type lane struct {
	sink audit.Sink // the lane's recorder
	rows *batcher   // what sink writes its rows to
	jobs chan laneJob
}

// laneJob is a lane's part of an epoch: apply its events (when apply),
// then run rec (when not nil) with the packet time up to which events
// are applied, then hand the rows to the files goroutine.
type laneJob struct {
	apply   bool
	applied time.Time
	rec     func(lane int, applied time.Time)
}

// clientLane is the lane of events of client a among n: a fixed hash, so
// that the same capture gives the same rows in the same order every run.
// The lane is taken from the product's top bits, the only ones that
// depend on every bit of the address (an IPv4 address's are the last four
// of its 16 bytes).
func clientLane(a netip.Addr, n int) int {
	if n == 1 {
		return 0
	}
	b := a.As16()
	h := (binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])) * 0x9e3779b97f4a7c15
	return int((h >> 32) * uint64(n) >> 32)
}

// runLane is lane k's goroutine; it closes the lane's rows once its jobs
// end.
func (s *shards) runLane(k int) {
	l := s.lanes[k]
	for j := range l.jobs {
		if j.apply {
			s.apply(k)
		}
		if j.rec != nil {
			j.rec(k, j.applied)
		}
		l.rows.endEpoch()
	}
	close(l.rows.out)
}

// apply gives lane k's events of the oldest epoch it has not applied to
// its recorder, worker by worker, and hands each worker's list back to it
// for reuse. Lane 0 notes the workers' counters.
func (s *shards) apply(k int) {
	l := s.lanes[k]
	for i, w := range s.workers {
		ep := <-w.out[k]
		ep.events.deliver(l.sink)
		w.sink.recycle(ep.events)
		if k == 0 {
			s.mu.Lock()
			s.stats[i] = ep.stats
			s.mu.Unlock()
		}
	}
}

// files is the files goroutine: for each epoch it commits the lanes'
// rows, then runs the epoch's work on the spool (when not nil), until the
// loop closes fileJobs; then it waits for the lanes to end.
func (s *shards) files(stopped chan<- struct{}) {
	ended := make([]bool, len(s.lanes))
	for then := range s.fileJobs {
		clear(ended)
		for open := len(s.lanes); open > 0; {
			for k, l := range s.lanes {
				if ended[k] {
					continue
				}
				refused, why, end := l.rows.commitNext()
				s.refused += refused
				if why != nil {
					s.refusedWhy = why
				}
				if end {
					ended[k] = true
					open--
				}
			}
		}
		if then != nil {
			then()
		}
	}
	for _, l := range s.lanes {
		for range l.rows.out {
		}
	}
	close(stopped)
}
