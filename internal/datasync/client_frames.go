package datasync

import (
	"context"
	"io"
	"sync/atomic"
)

// frameReader is an upload body: the file from off as frames, paced by the
// bandwidth limit.
type frameReader struct {
	ctx       context.Context
	r         io.ReaderAt
	off, size int64
	frame     int64
	lim       *Limiter
	wire      *atomic.Uint64
	buf       []byte
	pending   []byte
}

func (b *frameReader) Read(p []byte) (int, error) {
	if len(b.pending) == 0 {
		if b.off >= b.size {
			return 0, io.EOF
		}
		n := min(b.frame, b.size-b.off)
		if int64(cap(b.buf)) < b.frame+frameHeader {
			b.buf = make([]byte, b.frame+frameHeader)
		}
		// Read the data straight into place behind the frame header.
		data := b.buf[frameHeader : frameHeader+n]
		if _, err := b.r.ReadAt(data, b.off); err != nil {
			return 0, err
		}
		b.pending = frameAround(b.buf[:frameHeader+n])
		b.off += n
		if err := b.lim.Wait(b.ctx, len(b.pending)); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	b.wire.Add(uint64(n))
	return n, nil
}
