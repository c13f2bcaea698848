package logfile_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
)

// TestWritersSameFiles writes the same rows through a spool that writes
// its frames on the caller and through spools with frame writers: rows of
// four tables in three windows, frames flushed by size while others are in
// flight, a Flush between, a window closed by Advance. Every sync_file
// and load_file must be the same bytes, and nothing may be held after.
func TestWritersSameFiles(t *testing.T) {
	tables := []byte{'U', 'Q', 'F', 'A'}
	write := func(writers int) string {
		root := t.TempDir()
		sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Writers: writers, MaxFrameBytes: 32 << 10})
		if err != nil {
			t.Fatal(err)
		}
		g := rowgen.New(7, false)
		for i := range 6000 {
			tb, _ := schema.ByLetter(tables[i%len(tables)])
			ts := t0.Add(time.Duration(i) * 100 * time.Millisecond) // crosses into the next window
			if err := g.Row(sp, tb, ts); err != nil {
				t.Fatal(err)
			}
			if i == 3000 {
				if err := sp.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Advance does not wait for the frames of the windows it ends
		// (with writers); the next Flush publishes them.
		if err := sp.Advance(t0.Add(20 * time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := sp.Flush(); err != nil {
			t.Fatal(err)
		}
		if rows, bytes := sp.Held(); rows != 0 || bytes != 0 {
			t.Errorf("writers %d: %d rows (%d bytes) held after Advance and Flush", writers, rows, bytes)
		}
		if st := sp.Stats(); st.OpenWindows != 0 || st.Published != 12 {
			t.Errorf("writers %d: %d windows open, %d published after Advance and Flush, want 0 and 12 (4 tables, 3 windows)", writers, st.OpenWindows, st.Published)
		}
		if err := sp.Close(); err != nil {
			t.Fatal(err)
		}
		st := sp.Stats()
		if st.Frames < 40 || st.LoadFiles != st.Frames || st.WriteErrors != 0 {
			t.Errorf("writers %d: %d frames, %d load_files, %d write errors", writers, st.Frames, st.LoadFiles, st.WriteErrors)
		}
		return root
	}
	want := write(0)
	for _, writers := range []int{1, 2, 4} {
		got := write(writers)
		for _, dir := range []string{"sync", "load"} {
			a, b := treeFiles(t, filepath.Join(want, dir)), treeFiles(t, filepath.Join(got, dir))
			if len(a) != len(b) {
				t.Fatalf("writers %d: %d files in %s, want %d", writers, len(b), dir, len(a))
			}
			for name, data := range a {
				if !bytes.Equal(b[name], data) {
					t.Errorf("writers %d: %s/%s differs from the one written without writers", writers, dir, name)
				}
			}
		}
	}
}

// treeFiles returns the regular files under dir (none under .tmp) by path
// inside it.
func treeFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.Name() == ".tmp" {
				return filepath.SkipDir
			}
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return out
}

// TestAdvanceLateRows: rows for a window that Advance has ended come on
// (late, within what aclog holds back) while its last frames may still be
// in flight. With or without writers every row ends up in the window's
// published sync_file, once, in order, and nothing is left held or open.
func TestAdvanceLateRows(t *testing.T) {
	tb, _ := schema.ByLetter('U')
	name := logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'U'}
	for _, writers := range []int{0, 2} {
		root := t.TempDir()
		sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Writers: writers, MaxFrameBytes: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		g := rowgen.New(3, false)
		rows := 0
		for round := range 4 {
			for range 500 {
				if err := g.Row(sp, tb, t0); err != nil {
					t.Fatal(err)
				}
				rows++
			}
			// The window ended long ago: each Advance ends it again.
			if err := sp.Advance(t0.Add(time.Duration(round+1) * time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		// Advance alone publishes it, once its last frames are written
		// (at once without writers).
		for deadline := time.Now().Add(5 * time.Second); sp.Stats().OpenWindows > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
			if err := sp.Advance(t0.Add(5 * time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if st := sp.Stats(); st.OpenWindows != 0 || st.HeldRows != 0 {
			t.Errorf("writers %d: %d windows open, %d rows held after Advance", writers, st.OpenWindows, st.HeldRows)
		}
		if err := sp.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, name.Path(root), logfile.LZ4)
		if err != nil {
			t.Fatalf("writers %d: %v", writers, err)
		}
		if len(got) != rows {
			t.Errorf("writers %d: %d rows in %s, want %d", writers, len(got), name, rows)
		}
		last := uint64(0)
		for i, row := range got {
			id, err := logfile.RowID([]byte(row))
			if err != nil || id <= last {
				t.Fatalf("writers %d: row %d: id %d after %d (%v)", writers, i, id, last, err)
			}
			last = id
		}
		if _, err := os.Stat(name.Path(root) + ".part"); !os.IsNotExist(err) {
			t.Errorf("writers %d: %s.part left behind (%v)", writers, name, err)
		}
	}
}
