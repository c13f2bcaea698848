package bench_test

import (
	"context"
	"strings"
	"testing"

	"github.com/acstore/acstore/internal/bench"
	"github.com/acstore/acstore/internal/testdb"
)

// TestLoaderBench runs the loader measurements small so they keep working:
// each trial checks its own rows; here the rows and the ratios' form.
func TestLoaderBench(t *testing.T) {
	db, _ := testdb.New(t)
	rows, err := bench.Loader(context.Background(), db, 20000)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	bench.Print(&out, rows)
	t.Log("\n" + out.String())
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 6", len(rows))
	}
	for _, i := range []int{0, 2} {
		r := rows[i].Ratio
		if rows[i].Reference != rows[1].Name || r.Median == 0 || r.Min > r.Median || r.Median > r.Max {
			t.Errorf("%s: ratio %+v to %q, want a median of alternating runs vs %q", rows[i].Name, r, rows[i].Reference, rows[1].Name)
		}
	}
	if tm := rows[3].Times; tm.Median == 0 || tm.Min > tm.Median || tm.Median > tm.Max {
		t.Errorf("recover -check: times %+v", tm)
	}
	if _, err := bench.Codecs(5000); err != nil {
		t.Fatal(err)
	}
}
