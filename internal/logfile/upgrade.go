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
	return &upgrader{t: t, br: bufio.NewReaderSize(r, 64<<10)}
}

// upgrader converts whole rows into out, which Read hands out.
type upgrader struct {
	t    *schema.Table
	br   *bufio.Reader
	out  []byte
	off  int
	long []byte // a row longer than br's buffer, being gathered
	err  error
}

func (u *upgrader) Read(p []byte) (int, error) {
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
			if out, cerr := u.t.UpgradeRow(u.out, row); cerr == nil {
				u.out = out
			} else {
				u.out = append(u.out, row...)
			}
			if nl {
				u.out = append(u.out, '\n')
			}
		}
		u.long = u.long[:0]
		if err != nil {
			u.err = err
			return
		}
	}
}
