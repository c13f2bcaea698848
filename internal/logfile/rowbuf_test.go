package logfile_test

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// TestSpoolRowSizes writes rows of sizes around the spool's 64 KiB chunks
// (a row that just fits, one that just does not, one larger than a chunk)
// in one window, over several flushes and MaxFrameBytes flushes, and reads
// them back from the sync_file and the load_files, whole and in order.
func TestSpoolRowSizes(t *testing.T) {
	const chunk = 64 << 10
	sizes := []int{0, 1, 200, chunk - 100, chunk - 40, chunk, chunk + 1, 3 * chunk, 10, chunk / 2, chunk / 2, 7}
	for _, codec := range []logfile.Codec{logfile.LZ4, logfile.XZ} {
		t.Run(codec.String(), func(t *testing.T) {
			root := t.TempDir()
			sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Codec: codec, MaxFrameBytes: 5 * chunk})
			if err != nil {
				t.Fatal(err)
			}
			tb, _ := schema.ByLetter('I')
			rnd := rand.New(rand.NewPCG(1, 2))
			var want []string
			for round := range 4 {
				for i, size := range sizes {
					ts := t0.Add(time.Duration(round*len(sizes)+i) * time.Millisecond)
					e := sp.Begin('I', ts).Str(randomText(rnd, size))
					for range tb.FieldCount() - 3 {
						e.Str("")
					}
					want = append(want, string(e.Bytes()))
					if err := sp.Commit(); err != nil {
						t.Fatal(err)
					}
				}
				if round%2 == 1 {
					if err := sp.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := sp.Close(); err != nil {
				t.Fatal(err)
			}
			n := logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'I'}
			syncRows, err := readAll(t, n.Path(root), logfile.LZ4)
			if err != nil {
				t.Fatal(err)
			}
			checkRowTexts(t, "sync_file", syncRows, want)
			loads, _ := filepath.Glob(filepath.Join(logfile.LoadDir(root), strings.TrimSuffix(n.String(), logfile.SyncExt)+"_*"+logfile.LoadExt))
			if len(loads) < 3 {
				t.Fatalf("%d load_files, want a flush of a full frame and two of Flush at least", len(loads))
			}
			var loadRows []string
			for _, l := range loads { // in name order: by first id
				r, err := readAll(t, l, logfile.Plain)
				if err != nil {
					t.Fatal(err)
				}
				loadRows = append(loadRows, r...)
			}
			checkRowTexts(t, "load_files", loadRows, want)
		})
	}
}

// randomText returns n letters (text that does not compress much more
// than the readers allow).
func randomText(rnd *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rnd.IntN(26))
	}
	return string(b)
}

// checkRowTexts compares rows, without their ids, to want.
func checkRowTexts(t *testing.T, what string, rows, want []string) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(rows), len(want))
	}
	for i, r := range rows {
		_, text, ok := strings.Cut(r, "\t")
		if !ok || !bytes.Equal([]byte(text), []byte(want[i])) {
			t.Fatalf("%s: row %d (%d bytes) differs from the row written (%d bytes)", what, i, len(r), len(want[i]))
		}
	}
}
