package bench_test

import (
	"context"
	"os"
	"testing"

	"github.com/acstore/acstore/internal/bench"
)

// TestDatasyncBench runs the benchmark small, so it keeps working; set
// DATASYNC_BENCH_ROWS to measure for real and print the table.
func TestDatasyncBench(t *testing.T) {
	rows := 5000
	if os.Getenv("DATASYNC_BENCH_ROWS") != "" {
		var n int
		for _, c := range os.Getenv("DATASYNC_BENCH_ROWS") {
			n = n*10 + int(c-'0')
		}
		rows = n
	}
	out, err := bench.Datasync(context.Background(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 9 {
		t.Fatalf("%d rows of results, want 9", len(out))
	}
	if testing.Verbose() {
		bench.Print(os.Stdout, out)
	}
}
