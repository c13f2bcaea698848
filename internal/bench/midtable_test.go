package bench_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/acstore/acstore/internal/bench"
	"github.com/acstore/acstore/internal/testdb"
)

// TestMidtableBench runs the benchmark small (ACSTORE_BENCH_ROWS sets the size) and
// checks it measures what it says (each trial checks the sums of its
// tables itself): the 4-hour report read from one 4H bucket.
func TestMidtableBench(t *testing.T) {
	db, _ := testdb.New(t)
	n := 20_000
	if s := os.Getenv("ACSTORE_BENCH_ROWS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	rows, err := bench.Midtable(context.Background(), db, n, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	bench.Print(&out, rows)
	t.Log("\n" + out.String())
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5", len(rows))
	}
	if !strings.Contains(rows[3].Note, "MidFU4H20000103 [2000-01-03 12:00:00, 2000-01-03 16:00:00) 1 bucket(s)") {
		t.Errorf("the 4-hour report did not read one 4H bucket: %s", rows[3].Note)
	}
	// How fast midtable is next to the server is for `make bench` to say;
	// here: the ratio is the median of the alternating runs, within them.
	if r := rows[0].Ratio; r.Median == 0 || r.Min > r.Median || r.Median > r.Max {
		t.Errorf("midtable's ratio to the server %+v: want a median of runs with its min and max", r)
	}
	// That the report is faster from the rollups is for `make bench` to
	// show (at 20000 rows the raw GROUP BY takes milliseconds too); here,
	// that it reads one 4H bucket instead of the raw rows (above).
}
