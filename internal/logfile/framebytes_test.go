package logfile_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// TestFrameBytes holds the bytes of an LZ4 sync_file to the format
// (FORMAT.md): each frame is the LZ4 frame, block and content checksums on,
// 4 MiB blocks, of exactly the rows of the load_file published with it,
// however the spool holds the rows and hands them to the compressor. The
// rows fill frames past one 4 MiB block (flushed by size) and frames of
// Flush, with rows of every size around the spool's 64 KiB chunks.
func TestFrameBytes(t *testing.T) {
	root := t.TempDir()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw})
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := schema.ByLetter('I')
	rnd := rand.New(rand.NewPCG(3, 4))
	const chunk = 64 << 10
	sizes := []int{0, 300, 1500, 2000, chunk - 40, chunk + 1, 3 * chunk}
	for i := range 30000 {
		ts := t0.Add(time.Duration(i) * time.Millisecond)
		size := sizes[rnd.IntN(3)]
		if i%500 == 499 {
			size = sizes[3+rnd.IntN(4)]
		}
		e := sp.Begin('I', ts).Str(randomText(rnd, size))
		for range tb.FieldCount() - 3 {
			e.Str("")
		}
		if err := sp.Commit(); err != nil {
			t.Fatal(err)
		}
		if i%13000 == 12999 {
			if err := sp.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	n := logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'I'}
	got, err := os.ReadFile(n.Path(root))
	if err != nil {
		t.Fatal(err)
	}
	loads, _ := filepath.Glob(filepath.Join(logfile.LoadDir(root), strings.TrimSuffix(n.String(), logfile.SyncExt)+"_*"+logfile.LoadExt))
	var want bytes.Buffer
	big := 0
	for _, l := range loads { // in name order: by first id, the order of the frames
		rows, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > 4<<20 {
			big++
		}
		zw := lz4.NewWriter(&want)
		if err := zw.Apply(lz4.BlockChecksumOption(true), lz4.ChecksumOption(true), lz4.BlockSizeOption(lz4.Block4Mb)); err != nil {
			t.Fatal(err)
		}
		if _, err := zw.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if big < 2 || len(loads) < big+2 {
		t.Fatalf("%d load_files, %d of more than one block: want frames of both kinds", len(loads), big)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("sync_file: %d bytes differing from the LZ4 frames of its %d load_files (%d bytes)", len(got), len(loads), want.Len())
	}
}
