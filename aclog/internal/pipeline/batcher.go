package pipeline

import (
	"time"

	"github.com/acstore/acstore/internal/logfile"
)

// batcher is a lane's row writer when several workers run: the lane's
// goroutine makes the text of rows into batches, and the files goroutine
// commits them to the spool (ids, frames, files), so the two halves of
// writing rows run at once. Between a wait for the lanes and the next
// epoch the loop's goroutine holds the recorders and the spool (restarts,
// a capture's end): then rows go to the spool directly.
type batcher struct {
	sp     *logfile.Spool
	direct bool
	cur    *logfile.Batch
	free   chan *logfile.Batch
	out    chan fileJob // to the files goroutine
}

// fileJob is a batch for the files goroutine to commit (when not nil);
// end says it is the last of its epoch.
type fileJob struct {
	batch *logfile.Batch
	end   bool
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
		b.handoff(false)
	}
	return nil
}

// handoff sends the rows batched so far to the files goroutine; end says
// the epoch ends with them.
func (b *batcher) handoff(end bool) {
	var full *logfile.Batch
	if b.cur.Len() > 0 && b.sp != nil {
		full, b.cur = b.cur, <-b.free
	}
	if full != nil || end {
		b.out <- fileJob{batch: full, end: end}
	}
}

// endEpoch sends the rows batched so far and the end of the epoch.
func (b *batcher) endEpoch() { b.handoff(true) }

// commitNext is the files goroutine's: it commits the lane's next batch,
// if its next job has one, and reports how many rows the spool refused
// and whether the job ended an epoch.
func (b *batcher) commitNext() (refused uint64, end bool) {
	j := <-b.out
	if j.batch != nil {
		n, _ := b.sp.CommitBatch(j.batch)
		refused = uint64(n)
		b.free <- j.batch
	}
	return refused, j.end
}
