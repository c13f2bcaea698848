package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// xzGuard passes an xz file through unchanged while following its
// structure (stream header, block headers, LZMA2 chunk headers, index,
// footer, padding), and fails before the decoder is handed a block header
// whose dictionary is over the limit. ulikunitz/xz sizes its dictionary
// from that header, so this is the only place the claim can be refused.
// It does not check what the decoder checks (CRCs, index contents); it
// needs no memory of its own beyond one block header.
type xzGuard struct {
	r       io.Reader
	maxDict int64
	err     error

	off   int64 // bytes passed through
	state xzState
	need  int    // bytes still to collect into hdr (collecting states)
	hdr   []byte // bytes of the header being collected
	skip  int64  // bytes to pass through unexamined
	check int    // size of the stream's check field
	block int64  // bytes of the current block so far (header + data)
	vint  uint64 // varint being read
	vsh   uint
	recs  uint64 // index records still to read (two varints each)
	half  bool   // the second varint of a record is next
	index int64  // bytes of the index so far
}

type xzState int

const (
	xzStreamHeader xzState = iota
	xzBlockOrIndex
	xzBlockHeader
	xzChunk
	xzChunkHeader
	xzIndexCount
	xzIndexRecords
	xzIndexTail
	xzFooter
	xzStreamPadding
)

const (
	xzStreamHeaderLen = 12
	lzma2FilterID     = 0x21
	// maxXZBlocks bounds the index the decoder keeps for one stream (a
	// record per block); aclog's blocks are 1 MiB, so this is a terabyte.
	maxXZBlocks = 1 << 20
)

func newXZGuard(r io.Reader, maxDict int64) *xzGuard {
	return &xzGuard{r: r, maxDict: maxDict, state: xzStreamHeader, need: xzStreamHeaderLen}
}

func (g *xzGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, rerr := g.r.Read(p)
	if k, err := g.feed(p[:n]); err != nil {
		g.err = fmt.Errorf("xz at byte %d: %w", g.off, err)
		return k, g.err
	}
	return n, rerr
}

// feed follows the structure through b. On a refusal it returns how many
// bytes of b come before the offending header, so the decoder never sees
// that header whole.
func (g *xzGuard) feed(b []byte) (int, error) {
	start := g.off
	for i := 0; i < len(b); {
		if g.skip > 0 {
			k := int(min(g.skip, int64(len(b)-i)))
			g.skip -= int64(k)
			g.block += int64(k)
			g.off += int64(k)
			i += k
			continue
		}
		c := b[i]
		i++
		g.off++
		if err := g.step(c); err != nil {
			return int(max(0, g.headerStart()-start)), err
		}
	}
	return len(b), nil
}

// headerStart is where the header being collected began.
func (g *xzGuard) headerStart() int64 { return g.off - int64(len(g.hdr)) }

// collect adds c to the header; it reports whether the header is whole.
func (g *xzGuard) collect(c byte) bool {
	g.hdr = append(g.hdr, c)
	g.need--
	return g.need == 0
}

// step takes one byte that is not skipped, by the state the guard is in.
func (g *xzGuard) step(c byte) error {
	switch g.state {
	case xzStreamHeader:
		return g.streamHeader(c)
	case xzBlockOrIndex:
		return g.blockOrIndex(c)
	case xzBlockHeader:
		return g.blockHeader(c)
	case xzChunk:
		return g.chunk(c)
	case xzChunkHeader:
		return g.chunkHeader(c)
	case xzIndexCount, xzIndexRecords:
		return g.indexByte(c)
	case xzFooter:
		return g.footer(c)
	case xzStreamPadding:
		return g.streamPadding(c)
	}
	return nil
}

// streamHeader checks the stream header once it has all of it.
func (g *xzGuard) streamHeader(c byte) error {
	if !g.collect(c) {
		return nil
	}
	if !bytes.Equal(g.hdr[:6], xzMagic) || g.hdr[6] != 0 || g.hdr[7] > 0x0f {
		return errors.New("bad stream header")
	}
	g.check = xzCheckSize(g.hdr[7] & 0x0f)
	g.hdr = g.hdr[:0]
	g.recs = 0
	g.state = xzBlockOrIndex
	return nil
}

// blockOrIndex takes the byte that starts a block header or, when 0, the index.
func (g *xzGuard) blockOrIndex(c byte) error {
	if c == 0 {
		g.state, g.index, g.vint, g.vsh = xzIndexCount, 1, 0, 0
		return nil
	}
	g.hdr = append(g.hdr[:0], c)
	g.need = (int(c)+1)*4 - 1
	g.state = xzBlockHeader
	return nil
}

// blockHeader checks a block header once it has all of it.
func (g *xzGuard) blockHeader(c byte) error {
	if !g.collect(c) {
		return nil
	}
	if err := g.checkBlockHeader(g.hdr); err != nil {
		return err
	}
	if g.recs++; g.recs > maxXZBlocks {
		return fmt.Errorf("more than %d blocks in one stream", maxXZBlocks)
	}
	g.block = int64(len(g.hdr))
	g.hdr = g.hdr[:0]
	g.state = xzChunk
	return nil
}

// chunk takes an LZMA2 chunk's control byte.
func (g *xzGuard) chunk(c byte) error {
	g.block++
	switch {
	case c == 0: // end of the LZMA2 data: block padding, then the check
		g.skip = (4-g.block%4)%4 + int64(g.check)
		g.state = xzBlockOrIndex
	case c == 1 || c == 2: // uncompressed chunk: 2 bytes of size
		g.hdr, g.need, g.state = append(g.hdr[:0], c), 2, xzChunkHeader
	case c >= 0x80: // LZMA chunk: sizes, and properties when reset
		g.hdr, g.need, g.state = append(g.hdr[:0], c), 4, xzChunkHeader
		if c >= 0xc0 {
			g.need++
		}
	default:
		return fmt.Errorf("bad LZMA2 chunk control byte %#x", c)
	}
	return nil
}

// chunkHeader takes the sizes after a chunk's control byte and skips the chunk.
func (g *xzGuard) chunkHeader(c byte) error {
	g.block++
	if !g.collect(c) {
		return nil
	}
	h := g.hdr
	if h[0] < 0x80 {
		g.skip = int64(h[1])<<8 | int64(h[2]) + 1
	} else {
		g.skip = int64(h[3])<<8 | int64(h[4]) + 1
	}
	g.hdr = g.hdr[:0]
	g.state = xzChunk
	return nil
}

// indexByte takes a byte of the index: its count of records, then the records.
func (g *xzGuard) indexByte(c byte) error {
	g.index++
	v, done, err := g.varint(c)
	if err != nil || !done {
		return err
	}
	if g.state == xzIndexCount {
		if v != g.recs {
			return fmt.Errorf("index lists %d blocks, the stream has %d", v, g.recs)
		}
		g.recs, g.half = v, false
	} else if g.half = !g.half; !g.half {
		g.recs--
	}
	g.state = xzIndexRecords
	if g.recs == 0 {
		// Padding to a multiple of four, then the CRC32.
		g.skip = (4-g.index%4)%4 + 4
		g.state = xzFooter
		g.hdr, g.need = g.hdr[:0], xzStreamHeaderLen
	}
	return nil
}

// footer checks the stream footer once it has all of it.
func (g *xzGuard) footer(c byte) error {
	if !g.collect(c) {
		return nil
	}
	if !bytes.Equal(g.hdr[10:], []byte("YZ")) {
		return errors.New("bad stream footer")
	}
	g.hdr = g.hdr[:0]
	g.state = xzStreamPadding
	return nil
}

// streamPadding skips the zeros between streams until the next stream header.
func (g *xzGuard) streamPadding(c byte) error {
	if c == 0 {
		return nil
	}
	g.hdr, g.need, g.state = g.hdr[:0], xzStreamHeaderLen, xzStreamHeader
	g.collect(c)
	return nil
}

// varint reads the xz multibyte integer one byte at a time.
func (g *xzGuard) varint(c byte) (uint64, bool, error) {
	if g.vsh >= 63 {
		return 0, false, errors.New("integer too long")
	}
	g.vint |= uint64(c&0x7f) << g.vsh
	g.vsh += 7
	if c&0x80 != 0 {
		return 0, false, nil
	}
	v := g.vint
	g.vint, g.vsh = 0, 0
	return v, true, nil
}

// checkBlockHeader reads the filter list of a block header and refuses an
// LZMA2 dictionary over the limit.
func (g *xzGuard) checkBlockHeader(h []byte) error {
	flags := h[1]
	if flags&0x3c != 0 {
		return errors.New("bad block header flags")
	}
	p := h[2 : len(h)-4] // the CRC32 is the decoder's business
	next := func() (uint64, error) {
		var v uint64
		for i := 0; i < 9 && i < len(p); i++ {
			v |= uint64(p[i]&0x7f) << (7 * i)
			if p[i]&0x80 == 0 {
				p = p[i+1:]
				return v, nil
			}
		}
		return 0, errors.New("block header cut")
	}
	for _, bit := range []byte{0x40, 0x80} { // compressed, uncompressed size
		if flags&bit != 0 {
			if _, err := next(); err != nil {
				return err
			}
		}
	}
	for range int(flags&3) + 1 {
		id, err := next()
		if err != nil {
			return err
		}
		n, err := next()
		if err != nil || n > uint64(len(p)) {
			return errors.New("block header cut")
		}
		props := p[:n]
		p = p[n:]
		if id != lzma2FilterID {
			continue
		}
		if len(props) != 1 || props[0] > 40 {
			return errors.New("bad LZMA2 properties")
		}
		if d := xzDictSize(props[0]); d > g.maxDict {
			return &LimitError{What: "xz dictionary", Asked: d, Limit: g.maxDict}
		}
	}
	return nil
}

// xzDictSize decodes an LZMA2 dictionary size byte (0..40).
func xzDictSize(c byte) int64 {
	if c == 40 {
		return 1<<32 - 1
	}
	return int64(2|c&1) << (c/2 + 11)
}

// xzCheckSize is the size of the check field for a check type.
func xzCheckSize(t byte) int {
	switch {
	case t == 0:
		return 0
	case t <= 3:
		return 4
	case t <= 6:
		return 8
	case t <= 9:
		return 16
	case t <= 12:
		return 32
	}
	return 64
}
