package pipeline

import (
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
)

// TestCommitNextSaysWhy: the files goroutine gets from a lane's batch the
// count of rows the spool refused and the last reason, the very error a
// recorder keeps with one worker (the spool's Commit of the same row), so
// that with several workers the capture's error still says why.
func TestCommitNextSaysWhy(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 13, 0, 30, 0, time.Local)
	tb, _ := schema.ByLetter('U')
	for _, c := range []struct {
		name string
		bad  map[int]bool // rows with too few fields
	}{{"none refused", nil}, {"one", map[int]bool{3: true}}, {"several", map[int]bool{0: true, 5: true, 9: true}}} {
		t.Run(c.name, func(t *testing.T) {
			sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: t.TempDir(), Gateway: "5F86F7A5"})
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			b := newBatcher(sp)
			b.direct = false
			g := rowgen.New(3, false)
			for i := range 10 {
				ts := t0.Add(time.Duration(i) * time.Second)
				if c.bad[i] {
					b.Begin('U', ts).Uint(uint64(i))
					b.Commit()
				} else if err := g.Row(b, tb, ts); err != nil {
					t.Fatal(err)
				}
			}
			b.endEpoch()
			refused, why, end := b.commitNext()
			// What -workers 1 keeps: the spool's own error for such a row.
			sp.Begin('U', t0).Uint(1)
			want := sp.Commit()
			if len(c.bad) == 0 {
				want = nil
			}
			if refused != uint64(len(c.bad)) || !end || (why == nil) != (want == nil) ||
				(want != nil && why.Error() != want.Error()) {
				t.Errorf("refused %d (want %d), end %v, why %v; want %v", refused, len(c.bad), end, why, want)
			}
		})
	}
}
