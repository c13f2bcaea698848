package bytesize_test

import (
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
