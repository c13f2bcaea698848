package logfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testenv"
)

// TestDiskFull fills a small tmpfs: a flush that cannot be written fails
// with the disk's error, keeps its rows, leaves the sync_file readable, and
// succeeds once there is room again; every row is then in the file once.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	testenv.Tmpfs(t, dir, "256k")
	root := filepath.Join(dir, "data")
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, HighPerformance: true})
	if err != nil {
		t.Fatal(err)
	}
	// Take most of the space, keep a file to free later.
	ballast := filepath.Join(dir, "ballast")
	os.WriteFile(ballast, make([]byte, 200<<10), 0o644)

	tb, _ := schema.ByLetter('U')
	g := rowgen.New(9, false)
	written, failed := 0, 0
	for i := 0; i < 60 && failed == 0; i++ {
		for j := 0; j < 50; j++ {
			g.Row(sp, tb, t0)
			written++
		}
		if err := sp.Flush(); err != nil {
			failed++
			t.Logf("flush %d failed as expected: %v", i, err)
		}
	}
	if failed == 0 {
		t.Fatal("the disk never filled up")
	}
	part := logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'U'}.Path(root) + ".part"
	rows, err := readAll(t, part, logfile.LZ4)
	if err != nil {
		t.Fatalf("sync_file unreadable after a failed append: %v", err)
	}
	if len(rows) >= written {
		t.Fatalf("%d rows on disk, %d written: the failed flush cannot have fit", len(rows), written)
	}
	os.Remove(ballast)
	if err := sp.Flush(); err != nil {
		t.Fatalf("flush after freeing space: %v", err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err = readAll(t, filepath.Join(filepath.Dir(part), filepath.Base(part[:len(part)-5])), logfile.LZ4)
	if err != nil || len(rows) != written {
		t.Fatalf("%d rows after recovery (%v), want %d", len(rows), err, written)
	}

}
