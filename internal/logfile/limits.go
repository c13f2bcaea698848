package logfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// Limits bound what reading a file may allocate, whatever its headers
// claim: a sync_file may come from a broken or hostile branch, and every
// reader of rows (loader, recover, midtable, the datasync server) goes
// through OpenRows. The zero value means the defaults.
type Limits struct {
	// MaxDict is the largest xz dictionary a file may ask for. ulikunitz/xz
	// allocates what the block header says (up to 4 GiB), so the header is
	// checked before the library sees it. aclog writes 8 MiB dictionaries.
	MaxDict int64
	// MaxRow is the longest row, newline included. A row longer than this
	// ends the stream as damage instead of growing the buffer. aclog flushes
	// at most 4 MiB of rows at once, so no real row comes near it.
	MaxRow int
	// MaxRatio is the most bytes of rows a compressed file may expand to
	// per byte of it, checked once it has given RatioFloor bytes of
	// rows: past it the stream ends as damage. Memory is bounded without
	// it; it bounds the work per byte received, as a few MB of xz can
	// expand to terabytes of rows. aclog's files expand 2 to 4 times.
	MaxRatio int64
}

// Default limits.
const (
	DefaultMaxDict = 64 << 20
	DefaultMaxRow  = 8 << 20
	// DefaultMaxRatio leaves real files (BENCH.md: lz4 2.4, xz 3.8) a
	// margin of 25 times.
	DefaultMaxRatio = 100
	// RatioFloor is how many bytes of rows any file may give before its
	// ratio is checked.
	RatioFloor = 16 << 20
)

// ratioLimit is LimitError.What for MaxRatio.
const ratioLimit = "decompression ratio"

// withDefaults fills in the zero fields.
func (l Limits) withDefaults() Limits {
	if l.MaxDict <= 0 {
		l.MaxDict = DefaultMaxDict
	}
	if l.MaxRow <= 0 {
		l.MaxRow = DefaultMaxRow
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultMaxRatio
	}
	return l
}

// LimitError is a file that asks for more memory than the Limits allow.
type LimitError struct {
	What  string // "xz dictionary", "row", "decompression ratio"
	Asked int64  // what the file asks for; -1 when it is only known to be more
	Limit int64
}

func (e *LimitError) Error() string {
	if e.What == ratioLimit {
		return fmt.Sprintf("rows %d times the file's size, more than the %d times limit (%s)", e.Asked, e.Limit, e.What)
	}
	if e.Asked < 0 {
		return fmt.Sprintf("%s longer than the %d byte limit", e.What, e.Limit)
	}
	return fmt.Sprintf("%s of %d bytes asked for, more than the %d byte limit", e.What, e.Asked, e.Limit)
}

// Verify checks, without decompressing, that a sync_file is one and asks
// for no more than lim allows: its magic, and for xz its whole structure
// (every block header's dictionary). It reads the file once, skipping the
// compressed data, so a receiver can refuse a hostile file before storing
// it. A file cut short (a writer that died) is not an error: its complete
// part is what the readers use. LZ4 needs no walk: its blocks are at most
// 4 MiB by the format, which the decoder enforces. A file that is not
// acceptable gives a *CorruptionError.
func Verify(path string, lim Limits) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(len(xzMagic))
	if len(head) == 0 {
		return nil // an empty file: a window opened, nothing flushed
	}
	c, ok := Sniff(head)
	if !ok {
		return &CorruptionError{Path: path, Err: fmt.Errorf("not a sync_file: unknown magic % x", head)}
	}
	if c != XZ {
		return nil
	}
	g := newXZGuard(br, lim.withDefaults().MaxDict)
	_, err = io.Copy(io.Discard, onlyReader{g})
	if g.err != nil {
		return &CorruptionError{Path: path, Err: g.err}
	}
	return err
}
