package bytesize_test

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/acstore/acstore/internal/bytesize"
)

// TestString: -h prints sizes and rates in units, and what it
// prints reads back as the same number.
func TestString(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0"}, {1, "1"}, {1000, "1KB"}, {1024, "1KiB"}, {1536, "1536"},
		{32 << 20, "32MiB"}, {2 << 30, "2GiB"}, {200e9, "200GB"}, {3 << 40, "3TiB"}, {123456789, "123456789"},
	} {
		b := bytesize.Size(c.n)
		if got := b.String(); got != c.want {
			t.Errorf("Size(%d) = %q, want %q", c.n, got, c.want)
		}
		var back bytesize.Size
		if err := back.Set(b.String()); err != nil || back != b {
			t.Errorf("Size(%d): %q reads back as %d (%v)", c.n, b.String(), back, err)
		}
		r := bytesize.Rate(c.n)
		var rback bytesize.Rate
		if err := rback.Set(r.String()); err != nil || rback != r {
			t.Errorf("Rate(%d): %q reads back as %d (%v)", c.n, r.String(), rback, err)
		}
	}
}

// TestIntVar: a size flag on an int field prints its default in units in
// -h, reads units, and refuses what is not a size.
func TestIntVar(t *testing.T) {
	var n int
	var m int64
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	bytesize.IntVar(fs, &n, "buf", 64<<20, "buffer")
	bytesize.IntVar(fs, &m, "win", 0, "window")
	if n != 64<<20 || m != 0 {
		t.Fatalf("defaults %d, %d; want %d, 0", n, m, 64<<20)
	}
	fs.PrintDefaults()
	if !strings.Contains(out.String(), "(default 64MiB)") || strings.Contains(out.String(), "(default 0)") {
		t.Errorf("-h:\n%s\nwant (default 64MiB) for -buf and no default for -win", out.String())
	}
	if err := fs.Parse([]string{"-buf", "1.5KiB", "-win", "2GB"}); err != nil {
		t.Fatal(err)
	}
	if n != 1536 || m != 2e9 {
		t.Errorf("parsed %d, %d; want 1536, 2000000000", n, m)
	}
	if err := fs.Parse([]string{"-buf", "lots"}); err == nil || n != 1536 {
		t.Errorf("-buf lots: err %v, value %d; want an error and 1536 kept", err, n)
	}
}
