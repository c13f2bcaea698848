package audit

import "testing"

// TestMemoryLimit: the limit aclog gives the Go runtime is 2 KiB per
// session the table may hold plus the reassembly cap plus 128 MiB.
func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		sessions, pages int
		want            int64
	}{
		{1 << 20, 65536, 2<<30 + 65536*1900 + 128<<20},
		{200_000, 2000, 200_000*2048 + 2000*1900 + 128<<20},
	} {
		c := DefaultConfig()
		c.MaxSessions, c.MaxBufferedPagesTotal = tc.sessions, tc.pages
		if got := c.MemoryLimit(); got != tc.want {
			t.Errorf("%d sessions, %d pages: limit %d, want %d", tc.sessions, tc.pages, got, tc.want)
		}
	}
}
