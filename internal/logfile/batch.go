package logfile

import (
	"fmt"
	"time"
)

// RowWriter is where rows are written: a Spool, or a Batch for one.
type RowWriter interface {
	// Begin starts a row of the log table letter for an event at ts;
	// add the fields after id and ts to the returned Encoder, then call
	// Commit.
	Begin(letter byte, ts time.Time) *Encoder
	Commit() error
}

// Batch takes rows as a Spool does (Begin, add the fields, Commit) and
// holds them for a Spool to take later, on another goroutine
// (Spool.CommitBatch): the text of rows is made where the events are, the
// ids and the files where the Spool is. The rows get the ids they would
// have got committed to the Spool directly, in the same order. The zero
// Batch is ready to use; its buffers are reused once it is committed.
type Batch struct {
	enc  Encoder
	cur  batchRow
	buf  []byte
	rows []batchRow
}

type batchRow struct {
	letter byte
	ts     time.Time
	end    int // of its text in buf
	fields int
}

// NewBatch returns an empty Batch with room for rows rows of bytes bytes
// in all: a writer that reuses batches of a known size saves growing each
// one's buffers row by row (copies, and memory touched afresh).
func NewBatch(bytes, rows int) *Batch {
	return &Batch{buf: make([]byte, 0, bytes), rows: make([]batchRow, 0, rows)}
}

// Begin starts a row of the log table letter for an event at ts.
func (b *Batch) Begin(letter byte, ts time.Time) *Encoder {
	b.cur = batchRow{letter: letter, ts: ts}
	b.enc.Reset()
	b.enc.Time(ts)
	return &b.enc
}

// Commit adds the row begun by Begin. Whether the Spool takes it is known
// when it commits the batch.
func (b *Batch) Commit() error {
	b.buf = append(b.buf, b.enc.Bytes()...)
	b.cur.end, b.cur.fields = len(b.buf), b.enc.Fields()
	b.rows = append(b.rows, b.cur)
	return nil
}

// Len reports how many rows the batch holds, Size their bytes.
func (b *Batch) Len() int  { return len(b.rows) }
func (b *Batch) Size() int { return len(b.buf) }

// CommitBatch commits the rows of b in order, as Commit would each, and
// empties b. It reports how many rows it refused and the last reason.
func (s *Spool) CommitBatch(b *Batch) (refused int, err error) {
	start := 0
	for _, r := range b.rows {
		row := b.buf[start:r.end]
		start = r.end
		t := s.tables[r.letter]
		var e error
		if t == nil {
			e = fmt.Errorf("commit: unknown table %q", r.letter)
		} else {
			e = s.commit(t, Name{Window: s.win.of(r.ts), Gateway: s.cfg.Gateway, Table: r.letter}, row, r.fields)
		}
		if e != nil {
			refused, err = refused+1, e
		}
	}
	b.buf, b.rows = b.buf[:0], b.rows[:0]
	return refused, err
}
