package logfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/acstore/acstore/internal/schema"
)

// Upgrade returns the row text of r, rows of table t, with every row of an
// earlier layout of t converted to the current one (schema.Layout), so
// that a sync_file written by an older aclog loads with today's meanings.
// Rows of the current layout pass unchanged, and so do rows that match no
// layout (damaged: LOAD DATA reports them as it always did). For a table
// without earlier layouts r itself is returned.
func Upgrade(t *schema.Table, r io.Reader) io.Reader {
	if !t.NeedsUpgrade() {
		return r
	}
	return &upgrader{t: t, fields: t.FieldCount(), br: bufio.NewReaderSize(r, 64<<10)}
}

// upgrader converts whole rows into out, which Read hands out.
type upgrader struct {
	t      *schema.Table
	fields int // of a current row
	br     *bufio.Reader
	out    []byte
	off    int
	long   []byte // a row longer than br's buffer, being gathered
	err    error
}

func (u *upgrader) Read(p []byte) (int, error) {
	if u.off < len(u.out) {
		n := copy(p, u.out[u.off:])
		u.off += n
		return n, nil
	}
	if n := u.passCurrent(p); n > 0 {
		return n, nil
	}
	for u.off == len(u.out) {
		if u.err != nil {
			return 0, u.err
		}
		u.out, u.off = u.out[:0], 0
		u.fill()
	}
	n := copy(p, u.out[u.off:])
	u.off += n
	return n, nil
}

// passCurrent copies into p the complete rows at the head of the buffer
// when every one of them is current, which is the common case: one copy,
// as any buffered read, and a scan for field counts. It returns 0 when it
// cannot (a row to convert, a row longer than what is at hand, the end).
func (u *upgrader) passCurrent(p []byte) int {
	if u.br.Buffered() == 0 {
		if _, err := u.br.Peek(1); err != nil {
			return 0
		}
	}
	buf, _ := u.br.Peek(min(u.br.Buffered(), len(p)))
	last := bytes.LastIndexByte(buf, '\n')
	if last < 0 {
		return 0
	}
	rows := buf[:last+1]
	for rest := rows; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if bytes.Count(rest[:i], []byte{'\t'})+1 != u.fields {
			return 0
		}
		rest = rest[i+1:]
	}
	n := copy(p, rows)
	u.br.Discard(n)
	return n
}

// fill converts rows until out holds about 64 KiB or the input ends.
func (u *upgrader) fill() {
	for len(u.out) < 64<<10 {
		line, err := u.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			u.long = append(u.long, line...)
			continue
		}
		if len(u.long) > 0 {
			u.long = append(u.long, line...)
			line = u.long
		}
		if len(line) > 0 {
			row, nl := bytes.CutSuffix(line, []byte{'\n'})
			if bytes.Count(row, []byte{'\t'})+1 == u.fields {
				u.out = append(u.out, line...) // the common case: nothing to do
			} else {
				if out, cerr := u.t.UpgradeRow(u.out, row); cerr == nil {
					u.out = out
				} else {
					u.out = append(u.out, row...)
				}
				if nl {
					u.out = append(u.out, '\n')
				}
			}
		}
		u.long = u.long[:0]
		if err != nil {
			u.err = err
			return
		}
	}
}
