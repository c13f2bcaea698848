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
	locs []*time.Location // the rows' times' locations: one, as a rule
}

// batchRow holds no pointer (its time is in numbers, its location an
// index into the batch's locs): the garbage collector need not scan the
// rows, and does not read a batch's fresh pages before the rows are
// written to them. A read maps the kernel's shared zero page, and the
// first write then costs a second fault and, with another of the
// process's threads running, a TLB flush on every core.
type batchRow struct {
	sec    int64 // the row's time, Unix seconds
	end    int   // of its text in buf
	nsec   int32 // the row's time's nanoseconds
	fields int32
	loc    int32 // in locs
	letter byte
}

// NewBatch returns an empty Batch with room for rows rows of bytes bytes
// in all: a writer that reuses batches of a known size saves growing each
// one's buffers row by row (copies, and memory touched afresh).
func NewBatch(bytes, rows int) *Batch {
	return &Batch{buf: make([]byte, 0, bytes), rows: make([]batchRow, 0, rows)}
}

// Begin starts a row of the log table letter for an event at ts.
func (b *Batch) Begin(letter byte, ts time.Time) *Encoder {
	b.cur = batchRow{letter: letter, loc: b.locIndex(ts.Location()), sec: ts.Unix(), nsec: int32(ts.Nanosecond())}
	b.enc.Reset()
	b.enc.Time(ts)
	return &b.enc
}

// Commit adds the row begun by Begin. Whether the Spool takes it is known
// when it commits the batch.
func (b *Batch) Commit() error {
	b.buf = append(b.buf, b.enc.Bytes()...)
	b.cur.end, b.cur.fields = len(b.buf), int32(b.enc.Fields())
	b.rows = append(b.rows, b.cur)
	return nil
}

// locIndex returns loc's index in b.locs, adding it if it is new. The
// rows of one process share one location, or a few.
func (b *Batch) locIndex(loc *time.Location) int32 {
	for i, l := range b.locs {
		if l == loc {
			return int32(i)
		}
	}
	b.locs = append(b.locs, loc)
	return int32(len(b.locs) - 1)
}

// time returns r's time.
func (b *Batch) time(r *batchRow) time.Time { return time.Unix(r.sec, int64(r.nsec)).In(b.locs[r.loc]) }

// Len reports how many rows the batch holds, Size their bytes.
func (b *Batch) Len() int  { return len(b.rows) }
func (b *Batch) Size() int { return len(b.buf) }

// CommitBatch commits the rows of b in order, as Commit would each, and
// empties b. It reports how many rows it refused and the last reason; a
// row kept though its frame failed (KeptError) is not refused, and the
// failure is not reported here but by the next Flush.
func (s *Spool) CommitBatch(b *Batch) (refused int, err error) {
	start := 0
	for i := range b.rows {
		r := &b.rows[i]
		row := b.buf[start:r.end]
		start = r.end
		t := s.tables[r.letter]
		var e error
		if t == nil {
			e = fmt.Errorf("commit: unknown table %q", r.letter)
		} else {
			e = s.commit(t, Name{Window: s.win.of(b.time(r)), Gateway: s.cfg.Gateway, Table: r.letter}, row, int(r.fields))
		}
		if Refused(e) {
			refused, err = refused+1, e
		}
	}
	b.buf, b.rows, b.locs = b.buf[:0], b.rows[:0], b.locs[:0]
	return refused, err
}
