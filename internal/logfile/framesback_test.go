package logfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testenv"
)

// framesBackBytes is the frame size of TestDiskFullFramesBack: a frame
// compresses to more than a page, so that none fits in the room left in
// the last page of the sync_file once the disk is full.
const framesBackBytes = 16 << 10

// TestDiskFullFramesBack fills the disk (a tmpfs) while several frames of
// one sync_file are in flight on frame writers: the first fails with the
// disk's error, those behind it fail without writing, and the rows of all
// of them must go back in frame order, in front of the rows taken since.
// Once there is room again, the sync_file and the load_files must hold
// exactly the rows a spool that never failed writes of the same rows:
// same rows and ids, in order, none doubled or lost.
func TestDiskFullFramesBack(t *testing.T) {
	for _, c := range []struct{ writers, frames int }{{2, 2}, {2, 3}, {4, 3}} {
		t.Run(fmt.Sprintf("writers=%d,frames=%d", c.writers, c.frames), func(t *testing.T) {
			framesBack(t, c.writers, c.frames)
		})
	}
}

// framesBack writes a frame, fills the disk, takes frames frames of rows
// and half a frame more, fails a Flush, frees the disk, flushes, writes
// half a frame more and closes; then holds the files to a spool without
// writers on a disk with room, given the same rows.
func framesBack(t *testing.T, writers, frames int) {
	dir := t.TempDir()
	testenv.Tmpfs(t, dir, "512k")
	root := filepath.Join(dir, "data")
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Writers: writers, MaxFrameBytes: framesBackBytes})
	if err != nil {
		t.Fatal(err)
	}
	fr := &framesBackRows{t: t, sp: sp, g: rowgen.New(11, false)}
	fr.until(func(_, bytes int) bool { return bytes >= framesBackBytes/2 })
	if err := sp.Flush(); err != nil {
		t.Fatal(err)
	}
	ballast := filepath.Join(dir, "ballast")
	fillDisk(t, ballast)
	before := fr.n
	// Frames taken by size on a full disk, each behind the one before.
	fr.until(func(_, bytes int) bool { return bytes >= frames*framesBackBytes })
	fr.until(func(_, bytes int) bool { return bytes >= frames*framesBackBytes+framesBackBytes/2 })
	err = sp.Flush()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("flush on a full disk: %v, want the disk's error", err)
	}
	if held, _ := sp.Held(); held != fr.n-before {
		t.Fatalf("%d rows held after the failed flush, %d taken since the disk filled", held, fr.n-before)
	}
	os.Remove(ballast)
	if err := sp.Flush(); err != nil {
		t.Fatalf("flush after freeing space: %v", err)
	}
	after := fr.n + 20
	fr.until(func(rows, _ int) bool { return rows >= after })
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if st := sp.Stats(); st.WriteErrors == 0 || st.Dropped != 0 {
		t.Fatalf("%d write errors, %d rows dropped: want the disk's errors and no row dropped", st.WriteErrors, st.Dropped)
	}
	want := framesBackWant(t, fr.n)
	checkFramesBack(t, root, want)
}

// framesBackRows writes rows of table U, the i-th at t0 + i ms, all in one
// window.
type framesBackRows struct {
	t  *testing.T
	sp *logfile.Spool
	g  *rowgen.Gen
	n  int // rows taken
}

// until writes rows until done(rows taken, bytes held) or a row is
// dropped. A row's error on a full disk is that of a frame before it:
// the row itself is taken.
func (fr *framesBackRows) until(done func(rows, bytes int) bool) {
	tb, _ := schema.ByLetter('U')
	for range 10000 {
		held, bytes := fr.sp.Held()
		if done(fr.n, bytes) {
			return
		}
		err := fr.g.Row(fr.sp, tb, t0.Add(time.Duration(fr.n)*time.Millisecond))
		if errors.Is(err, logfile.ErrDropped) {
			fr.t.Fatalf("row %d dropped (%d rows held): %v", fr.n, held, err)
		}
		fr.n++
	}
	fr.t.Fatal("10000 rows written and not done")
}

// fillDisk writes the file path until its disk is full.
func fillDisk(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	for range 1 << 16 {
		if _, err := f.Write(page); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("the disk never filled up")
}

// framesBackWant writes n rows as framesBackRows does through a spool
// without writers on a disk with room, and returns its sync_file's rows.
func framesBackWant(t *testing.T, n int) []string {
	root := t.TempDir()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, MaxFrameBytes: framesBackBytes})
	if err != nil {
		t.Fatal(err)
	}
	fr := &framesBackRows{t: t, sp: sp, g: rowgen.New(11, false)}
	fr.until(func(rows, _ int) bool { return rows >= n })
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	rows, errs := syncRows(t, root)
	name := logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'U'}.String()
	if len(rows) != 1 || len(rows[name]) != n || len(errs) > 0 {
		t.Fatalf("reference: %d sync_files, %d rows of %s, want %d; errors %v", len(rows), len(rows[name]), name, n, errs)
	}
	return rows[name]
}

// checkFramesBack holds the sync_file and the load_files under root to
// the rows want: the same rows in the same order, ids growing.
func checkFramesBack(t *testing.T, root string, want []string) {
	name := logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'U'}.String()
	syncs, errs := syncRows(t, root)
	loads, backfill, bad := loadRows(root)
	if len(syncs) != 1 || len(errs) > 0 || len(loads) != 1 || len(backfill) > 0 || len(bad) > 0 {
		t.Fatalf("%d sync_files (errors %v), load_files of %d, backfill markers %v, bad load_files %v",
			len(syncs), errs, len(loads), backfill, bad)
	}
	last := uint64(0)
	for i, row := range syncs[name] {
		id, err := logfile.RowID([]byte(row))
		if err != nil || id <= last {
			t.Fatalf("sync_file row %d: id %d after %d (%v): rows out of order or doubled", i, id, last, err)
		}
		last = id
	}
	checkLoadNames(t, root)
	for what, got := range map[string][]string{"sync_file": syncs[name], "load_files": loads[name]} {
		if !slices.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s: %d rows, want %d; the first different is row %d", what, len(got), len(want), i)
		}
	}
}

// checkLoadNames checks that every load_file under root is named by the
// id of its first row.
func checkLoadNames(t *testing.T, root string) {
	ents, err := os.ReadDir(logfile.LoadDir(root))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		ln, err := logfile.ParseLoadName(e.Name(), time.Local)
		if e.IsDir() || err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(logfile.LoadDir(root), e.Name()))
		first, _, _ := bytes.Cut(b, []byte("\n"))
		if id, idErr := logfile.RowID(first); err != nil || idErr != nil || id != ln.FirstID {
			t.Errorf("load_file %s: first row's id %d (%v, %v)", e.Name(), id, err, idErr)
		}
	}
}
