package loader

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestStatements: rows cut into statements end each at a row end, the
// first past max bytes, and together are the rows, whatever the reads'
// sizes.
func TestStatements(t *testing.T) {
	var sb strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&sb, "row %d\t%s\n", i, strings.Repeat("x", i%37))
	}
	rows := sb.String()
	for _, c := range []struct {
		name string
		max  int64
		r    func() io.Reader
		buf  int
	}{
		{"whole reads", 1000, func() io.Reader { return strings.NewReader(rows) }, 4096},
		{"one byte reads", 1000, func() io.Reader { return iotest.OneByteReader(strings.NewReader(rows)) }, 4096},
		{"small buffer", 333, func() io.Reader { return strings.NewReader(rows) }, 7},
		{"max smaller than a row", 1, func() io.Reader { return strings.NewReader(rows) }, 64},
		{"no max", 0, func() io.Reader { return strings.NewReader(rows) }, 4096},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &statements{r: c.r(), max: c.max}
			var all bytes.Buffer
			n := 0
			for {
				var st bytes.Buffer
				buf := make([]byte, c.buf)
				for {
					k, err := s.Read(buf)
					st.Write(buf[:k])
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				if st.Len() > 0 {
					n++
					b := st.Bytes()
					if b[len(b)-1] != '\n' {
						t.Fatalf("statement %d does not end at a row end: %q", n, b[max(0, len(b)-20):])
					}
					if c.max > 0 {
						last := bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
						if int64(last) >= c.max {
							t.Fatalf("statement %d of %d bytes goes on past max %d by more than its last row", n, len(b), c.max)
						}
					}
				}
				all.Write(st.Bytes())
				if !s.next() {
					break
				}
			}
			if all.String() != rows {
				t.Fatalf("the statements' rows (%d bytes) are not the rows (%d bytes)", all.Len(), len(rows))
			}
			// Each statement is max bytes and at most one row (< 64 bytes) more.
			lo, hi := 1, 1
			if c.max > 0 {
				lo, hi = len(rows)/int(c.max+64), (len(rows)+int(c.max)-1)/int(c.max)
			}
			if n < lo || n > hi {
				t.Errorf("%d statements, want %d to %d", n, lo, hi)
			}
		})
	}
}
