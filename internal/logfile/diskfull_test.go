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
	for _, c := range []struct{ writers, frame int }{{0, 0}, {0, 4 << 10}, {2, 0}, {2, 4 << 10}} {
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
	written, failed, kept := 0, 0, 0
	row := func() {
		err := g.Row(sp, tb, t0)
		if !errors.Is(err, logfile.ErrDropped) {
			written++ // taken, if not yet written
		}
		// A row is refused only when dropped; a frame that failed
		// behind it leaves it kept.
		if logfile.Refused(err) != errors.Is(err, logfile.ErrDropped) {
			t.Fatalf("row error %v: Refused says %v", err, logfile.Refused(err))
		}
		var k *logfile.KeptError
		if errors.As(err, &k) {
			kept++
		}
	}
	for i := 0; i < 60 && failed == 0; i++ {
		for range 50 {
			row()
		}
		if err := sp.Flush(); err != nil {
			failed++
			t.Logf("flush %d failed as expected: %v", i, err)
		}
	}
	if failed == 0 {
		t.Fatal("the disk never filled up")
	}
	// Frames of 4 KiB fill as rows come: the commit that fills one
	// writes it, and on the full disk reports that the row was kept.
	if frame != 0 {
		for range 100 {
			row()
		}
		if kept == 0 {
			t.Error("no commit reported a kept row while frames failed")
		}
		if err := sp.Flush(); err == nil {
			t.Fatal("flush on the full disk succeeded")
		}
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

// TestDiskFullHeldBounded writes rows on a full disk until one is dropped:
// the rows held stay within MaxHeldPerWindow, with frames written on the
// caller and on frame writers (whose retries take the held rows into a
// frame in flight, which must count).
func TestDiskFullHeldBounded(t *testing.T) {
	for _, writers := range []int{0, 2, 4} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			dir := t.TempDir()
			testenv.Tmpfs(t, dir, "256k")
			sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: filepath.Join(dir, "data"), Gateway: gw, Writers: writers, MaxFrameBytes: 8 << 10})
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			tb, _ := schema.ByLetter('U')
			g := rowgen.New(5, false)
			if err := g.Row(sp, tb, t0); err != nil { // opens the sync_file
				t.Fatal(err)
			}
			fillDisk(t, filepath.Join(dir, "ballast"))
			for i := range 20000 {
				err := g.Row(sp, tb, t0)
				if _, bytes := sp.Held(); bytes > sp.MaxHeldPerWindow()+4<<10 {
					t.Fatalf("row %d: %d bytes held, the bound is %d", i, bytes, sp.MaxHeldPerWindow())
				}
				if errors.Is(err, logfile.ErrDropped) {
					return
				}
			}
			_, bytes := sp.Held()
			t.Fatalf("20000 rows on a full disk and none dropped; %d bytes held", bytes)
		})
	}
}
