package logfile

import (
	"io"
	"strconv"
)

// chunkSize is the size of the pieces a window's pending rows are held
// in. A window's rows used to be one slice, doubled as it grew: each
// growth copied every row held and took fresh memory, and each new window
// grew its own again (a tenth of aclog's CPU on short sessions, most of it
// page faults). Chunks never move once written and go back to the spool
// when their rows are flushed.
const chunkSize = 64 << 10

// rowBuf is a window's pending rows, in order, in chunks. A row never
// straddles two chunks; a row larger than a chunk has one of its own.
type rowBuf struct {
	chunks [][]byte
	size   int // bytes held
}

// chunks is the spool's store of empty chunks, bounded by max.
type chunkPool struct {
	free [][]byte
	max  int
}

func (p *chunkPool) get(n int) []byte {
	if n > chunkSize {
		return make([]byte, 0, n)
	}
	if k := len(p.free); k > 0 {
		c := p.free[k-1]
		p.free[k-1] = nil
		p.free = p.free[:k-1]
		return c
	}
	return make([]byte, 0, chunkSize)
}

func (p *chunkPool) put(c []byte) {
	if cap(c) == chunkSize && len(p.free) < p.max {
		p.free = append(p.free, c[:0])
	}
}

// add appends "id\trow\n".
func (b *rowBuf) add(p *chunkPool, id uint64, row []byte) {
	n := 20 + 1 + len(row) + 1 // the id takes at most 20 digits
	k := len(b.chunks) - 1
	if k < 0 || cap(b.chunks[k])-len(b.chunks[k]) < n {
		b.chunks = append(b.chunks, p.get(n))
		k++
	}
	c := b.chunks[k]
	before := len(c)
	c = strconv.AppendUint(c, id, 10)
	c = append(c, '\t')
	c = append(c, row...)
	c = append(c, '\n')
	b.chunks[k] = c
	b.size += len(c) - before
}

// writeTo writes the rows to w, chunk by chunk.
func (b *rowBuf) writeTo(w io.Writer) error {
	for _, c := range b.chunks {
		if _, err := w.Write(c); err != nil {
			return err
		}
	}
	return nil
}

// reset empties the buffer, giving its chunks back to p.
func (b *rowBuf) reset(p *chunkPool) {
	for i, c := range b.chunks {
		p.put(c)
		b.chunks[i] = nil
	}
	b.chunks, b.size = b.chunks[:0], 0
}
