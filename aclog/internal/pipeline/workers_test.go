package pipeline_test

import (
	"path/filepath"
	"testing"

	"github.com/acstore/acstore/aclog/internal/pipeline"
)

// TestWorkers: on every bundled capture, one engine and four engines
// sharing the packets give the same rows (ids aside), F and T sums
// included.
func TestWorkers(t *testing.T) {
	files := bundledCaptures(t)
	rows := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			one, four := t.TempDir(), t.TempDir()
			runFiles(t, one, func(c *pipeline.Config) { c.Workers = 1 }, f)
			runFiles(t, four, func(c *pipeline.Config) { c.Workers = 4 }, f)
			want := rowSet(t, one)
			diffRows(t, "4 workers", want, rowSet(t, four))
			rows += len(want)
		})
	}
	// All the captures in one run: sessions of many hosts spread over the
	// workers, and restarts between captures.
	one, four := t.TempDir(), t.TempDir()
	runFiles(t, one, func(c *pipeline.Config) { c.Workers = 1 }, files...)
	runFiles(t, four, func(c *pipeline.Config) { c.Workers = 4 }, files...)
	diffRows(t, "all captures, 4 workers", rowSet(t, one), rowSet(t, four))
	if rows < 1000 {
		t.Errorf("only %d rows compared", rows)
	}
}
