package logfile_test

import (
	"errors"
	"fmt"
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
// succeeds once there is room again; every row is then in the file once;
// with frames written on the caller and on frame writers, and with frames
// small enough that several of one sync_file are in flight when the disk
// fills (the rows must come back in their order).
func TestDiskFull(t *testing.T) {
	for _, c := range []struct{ writers, frame int }{{0, 0}, {2, 0}, {2, 4 << 10}} {
		t.Run(fmt.Sprintf("writers=%d,frame=%d", c.writers, c.frame), func(t *testing.T) { diskFull(t, c.writers, c.frame) })
	}
}

func diskFull(t *testing.T, writers, frame int) {
	dir := t.TempDir()
	testenv.Tmpfs(t, dir, "256k")
	root := filepath.Join(dir, "data")
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, HighPerformance: true, Writers: writers, MaxFrameBytes: frame})
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
			if err := g.Row(sp, tb, t0); !errors.Is(err, logfile.ErrDropped) {
				written++ // taken, if not yet written
			}
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
	last := uint64(0)
	for i, row := range rows {
		id, err := logfile.RowID([]byte(row))
		if err != nil || id <= last {
			t.Fatalf("row %d: id %d after %d (%v): rows out of order", i, id, last, err)
		}
		last = id
	}
}
