package logfile_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
)

// TestBatch: rows written into batches and committed by a Spool give the
// same files, byte for byte, ids included, as the same rows committed to
// the Spool directly, and a row the Spool refuses is refused either way.
// Every third row's time is in a zone 30 minutes off UTC: its windows are
// named by that zone's wall clock, files of their own.
func TestBatch(t *testing.T) {
	off := time.FixedZone("UTC+0030", 30*60)
	write := func(w logfile.RowWriter, done func()) (refused int) {
		g := rowgen.New(7, true)
		for i := range 900 {
			for _, l := range []byte("AUQFT") {
				tb, _ := schema.ByLetter(l)
				// 100 ms apart from 4.5 min into a window: the rows span two.
				ts := t0.Add(4*time.Minute + time.Duration(i)*100*time.Millisecond)
				if i%3 == 0 {
					ts = ts.In(off)
				}
				if err := g.Row(w, tb, ts); err != nil {
					t.Fatal(err)
				}
			}
			if i == 500 {
				// One field short: refused.
				w.Begin('A', t0).Str("x")
				if w.Commit() != nil {
					refused++
				}
			}
			if i%250 == 0 {
				done()
			}
		}
		done()
		return refused
	}
	direct := t.TempDir()
	sp := newSpool(t, direct, logfile.LZ4)
	if n := write(sp, func() {}); n != 1 {
		t.Errorf("spool refused %d rows, want 1", n)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	// The zero Batch, and one made with room for fewer rows than it takes.
	for _, b := range []*logfile.Batch{{}, logfile.NewBatch(16<<10, 64)} {
		batched := t.TempDir()
		if files := writeBatched(t, write, b, direct, batched); files != 20 {
			t.Errorf("%d sync_files compared, want 20 (5 tables, 2 windows, 2 zones)", files)
		}
	}
}

// writeBatched writes the rows of write into b, committed to a Spool of
// its own under batched, and compares the sync_files with those under
// direct; it returns how many it compared.
func writeBatched(t *testing.T, write func(logfile.RowWriter, func()) int, b *logfile.Batch, direct, batched string) (files int) {
	t.Helper()
	sp := newSpool(t, batched, logfile.LZ4)
	refused := 0
	write(b, func() {
		n, err := sp.CommitBatch(b)
		if n > 0 && err == nil {
			t.Error("rows refused without a reason")
		}
		refused += n
		if b.Len() != 0 || b.Size() != 0 {
			t.Errorf("batch holds %d rows after it was committed", b.Len())
		}
	})
	if refused != 1 {
		t.Errorf("batch: %d rows refused, want 1", refused)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	err := logfile.WalkSync(direct, func(path string, n logfile.Name) error {
		want, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(direct, path)
		got, err := os.ReadFile(filepath.Join(batched, rel))
		if err != nil {
			return err
		}
		if string(got) != string(want) {
			t.Errorf("%s: the batched file differs from the direct one", n)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
