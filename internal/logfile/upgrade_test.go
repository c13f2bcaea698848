package logfile

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/acstore/acstore/internal/schema"
)

// TestUpgrade: rows of U's layout 1 get the columns appended since (one
// request each), current rows and rows of no layout pass unchanged, and
// rows longer than the read buffer and a last row without its newline
// come through whole.
func TestUpgrade(t *testing.T) {
	u, _ := schema.ByLetter('U')
	field := func(n int, v string) []string {
		f := make([]string, n)
		for i := range f {
			f[i] = v
		}
		return f
	}
	old := strings.Join(field(len(u.Past[0].Columns), "o"), "\t")
	long := strings.Join(append(field(len(u.Past[0].Columns)-1, "o"), strings.Repeat("x", 200<<10)), "\t")
	cur := strings.Join(field(u.FieldCount(), "c"), "\t")
	bad := "1\t2\t3"
	in := old + "\n" + cur + "\n" + bad + "\n" + long + "\n" + old
	tail := "\t" + `\N` + "\t1\t" + `\N` // app_type, repeat_count, last_ts
	want := old + tail + "\n" + cur + "\n" + bad + "\n" + long + tail + "\n" + old + tail
	// Read a byte at a time (every row converted one by one) and in
	// large reads (runs of current rows passed through).
	lead := strings.Repeat(cur+"\n", 5000)
	for _, c := range []struct {
		r    io.Reader
		want string
	}{
		{iotest.OneByteReader(Upgrade(u, strings.NewReader(in))), want},
		{Upgrade(u, strings.NewReader(lead+in)), lead + want},
	} {
		got, err := io.ReadAll(c.r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, []byte(c.want)) {
			t.Errorf("upgraded text differs: got %d bytes, want %d", len(got), len(c.want))
		}
	}
	a, _ := schema.ByLetter('A')
	if r := strings.NewReader(in); Upgrade(a, r) != io.Reader(r) {
		t.Error("a table without earlier layouts is not passed through")
	}
}

// BenchmarkUpgradeCurrent: what the upgrade costs loader on U rows that
// need none (the common case): a scan for the field count and a copy.
func BenchmarkUpgradeCurrent(b *testing.B) {
	u, _ := schema.ByLetter('U')
	f := make([]string, u.FieldCount())
	for i := range f {
		f[i] = "some-field-value"
	}
	row := strings.Join(f, "\t") + "\n"
	text := strings.Repeat(row, 20000)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := io.Copy(io.Discard, Upgrade(u, strings.NewReader(text))); err != nil {
			b.Fatal(err)
		}
	}
}
