package pipeline

import (
	"time"

	"github.com/acstore/acstore/internal/logfile"
)

// batcher is the recorder's row writer when several workers run: the
// writer goroutine makes the text of rows into batches, and the files
// goroutine commits them to the spool (ids, frames, files), so the two
// halves of writing rows run at once. Between a wait for the writer and
// the next epoch the loop's goroutine holds the recorder and the spool
// (restarts, a capture's end): then rows go to the spool directly.
type batcher struct {
	sp     *logfile.Spool
	direct bool
	cur    *logfile.Batch
	free   chan *logfile.Batch
	out    chan fileJob // to the files goroutine
}

// fileJob is what the files goroutine does: commit a batch (when not
// nil), then run then (when not nil).
type fileJob struct {
	batch *logfile.Batch
	then  func()
}

// batchBytes is the size at which a batch goes to the files goroutine
// without waiting for the epoch's end; with batches batches in all, it
// bounds the rows in flight.
const (
	batchBytes = 1 << 20
	batches    = 4
)

func newBatcher(sp *logfile.Spool) *batcher {
	b := &batcher{sp: sp, direct: true, free: make(chan *logfile.Batch, batches), out: make(chan fileJob, batches)}
	for range batches - 1 {
		b.free <- &logfile.Batch{}
	}
	b.cur = &logfile.Batch{}
	return b
}

func (b *batcher) Begin(letter byte, ts time.Time) *logfile.Encoder {
	if b.direct {
		return b.sp.Begin(letter, ts)
	}
	return b.cur.Begin(letter, ts)
}

func (b *batcher) Commit() error {
	if b.direct {
		return b.sp.Commit()
	}
	b.cur.Commit()
	if b.cur.Size() >= batchBytes {
		b.handoff(nil)
	}
	return nil
}

// handoff sends the rows batched so far, then then, to the files
// goroutine.
func (b *batcher) handoff(then func()) {
	var full *logfile.Batch
	if b.cur.Len() > 0 && b.sp != nil {
		full, b.cur = b.cur, <-b.free
	}
	if full != nil || then != nil {
		b.out <- fileJob{batch: full, then: then}
	}
}

// files is the files goroutine: it commits the batches and runs the jobs
// in order, counting the rows the spool refused, until out is closed.
func (b *batcher) files(refused *uint64, stopped chan<- struct{}) {
	for j := range b.out {
		if j.batch != nil {
			n, _ := b.sp.CommitBatch(j.batch)
			*refused += uint64(n)
			b.free <- j.batch
		}
		if j.then != nil {
			j.then()
		}
	}
	close(stopped)
}
