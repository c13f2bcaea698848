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
//
// A batch is cut where it reaches batchBytes, and at an epoch's end; it
// travels as chunks of about chunkBytes, so that the lanes can run
// epochs ahead of the files goroutine in buffers that are all of one
// size, reused as they are without growing again, 2 MB per lane.
type batcher struct {
	sp     *logfile.Spool
	direct bool
	cur    *logfile.Batch // the chunk being written
	size   int            // of the batch, in the chunks sent before cur
	free   chan *logfile.Batch
	out    chan fileJob // to the files goroutine
}

// fileJob is a chunk for the files goroutine to commit (when not nil);
// last says it ends its batch, end that it ends the epoch.
type fileJob struct {
	chunk     *logfile.Batch
	last, end bool
}

// batchBytes is the size at which a batch ends without waiting for the
// epoch's end. The files goroutine takes a batch from each lane in turn,
// so where batches end sets the order rows are committed in, hence their
// ids: it must not change. With chunks chunks of chunkBytes (and a row)
// in all, a lane has 2 MB of rows in flight at most: some 10 epochs of
// short sessions. The files goroutine no longer waits for fsync (the
// spool's frame writers do), so more room only cost memory: 48 chunks
// ran no faster and took 20 MB more. A chunk is made with room for chunkBytes and a row of
// up to chunkSlack, in rows of 96 bytes or more: grown row by row
// instead, the chunks cost a lane more than the rest of the handoff.
const (
	batchBytes = 1 << 20
	chunkBytes = 128 << 10
	chunkSlack = 16 << 10
	chunks     = 16
)

func newBatcher(sp *logfile.Spool) *batcher {
	b := &batcher{sp: sp, direct: true, free: make(chan *logfile.Batch, chunks), out: make(chan fileJob, chunks)}
	if sp == nil {
		// No rows: they are never handed over.
		b.cur = &logfile.Batch{}
		return b
	}
	for range chunks - 1 {
		b.free <- newChunk()
	}
	b.cur = newChunk()
	return b
}

func newChunk() *logfile.Batch {
	return logfile.NewBatch(chunkBytes+chunkSlack, (chunkBytes+chunkSlack)/96)
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
	if b.size+b.cur.Size() >= batchBytes {
		b.handoff(true, false)
	} else if b.cur.Size() >= chunkBytes {
		b.handoff(false, false)
	}
	return nil
}

// handoff sends the rows written to cur to the files goroutine; last
// says their batch ends with them, end that the epoch does.
func (b *batcher) handoff(last, end bool) {
	var full *logfile.Batch
	if b.cur.Len() > 0 && b.sp != nil {
		b.size += b.cur.Size()
		full, b.cur = b.cur, <-b.free
	}
	if last {
		b.size = 0
	}
	if full != nil || end {
		b.out <- fileJob{chunk: full, last: last, end: end}
	}
}

// endEpoch sends the rows batched so far and the end of the epoch.
func (b *batcher) endEpoch() { b.handoff(true, true) }

// commitNext is the files goroutine's: it commits the lane's next batch,
// chunk by chunk, and reports how many rows the spool refused, the last
// reason (nil if none), and whether the batch ended an epoch.
func (b *batcher) commitNext() (refused uint64, why error, end bool) {
	for {
		j := <-b.out
		if j.chunk != nil {
			n, err := b.sp.CommitBatch(j.chunk)
			refused += uint64(n)
			if err != nil {
				why = err
			}
			b.free <- j.chunk
		}
		if j.last {
			return refused, why, j.end
		}
	}
}
