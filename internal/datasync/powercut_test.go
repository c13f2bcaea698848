package datasync

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/fileutil/cuttest"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
)

// recompressCuts cuts the power during the recompression of an LZ4
// sync_file to xz, then recompresses again as the next pass does: it must
// ship the whole file. A file found under the outgoing name is reused as is
// (a resumed upload sends the same bytes), so a torn one would be shipped
// and committed as complete.
func recompressCuts(t *testing.T, n int, skip func(string) bool) cuttest.Result {
	src := t.TempDir()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: src, Gateway: "5F86F7A5", Codec: logfile.LZ4, MaxFrameBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	g := rowgen.New(3, true)
	tb, _ := schema.ByLetter('A')
	t0 := time.Date(2026, 11, 21, 13, 0, 0, 0, time.Local)
	for k := range 60 {
		if err := g.Row(sp, tb, t0.Add(time.Duration(k)*time.Second/2)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	name := logfile.Name{Window: t0, Gateway: "5F86F7A5", Table: tb.Letter}
	fi, err := os.Stat(name.Path(src))
	if err != nil {
		t.Fatal(err)
	}
	lf := localFile{name: name, path: name.Path(src), size: fi.Size()}
	client := func(root string, fsys fileutil.FS) *Client {
		return &Client{cfg: ClientConfig{Root: root, Codec: logfile.XZ, FS: fsys}, log: slog.New(slog.DiscardHandler), sums: make(map[string]fileSum)}
	}
	refRoot := t.TempDir()
	out, err := client(refRoot, fileutil.OS).recompress(lf)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(out)
	cfg := cuttest.Config{N: n, Seed: 5, Skip: skip, Setup: func(root string) error {
		return os.MkdirAll(filepath.Join(root, "state"), 0o755)
	}}
	return cuttest.Run(t, cfg, func(root string, fsys fileutil.FS) (struct{}, error) {
		_, err := client(root, fsys).recompress(lf)
		return struct{}{}, err
	}, func(c *cuttest.Cut[struct{}]) {
		out, err := client(c.Root, fileutil.OS).recompress(lf)
		if err != nil {
			c.Fail("the next pass: %v", err)
			return
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
			c.Fail("after the cut the next pass ships %s torn", filepath.Base(out))
		}
	})
}

// TestRecompressPowerCut: after a power cut at any point of a
// recompression, the next pass ships the whole file; and the fsync of the
// recompressed file is needed for that (its directory's is not: a lost
// entry only redoes a deterministic recompression).
func TestRecompressPowerCut(t *testing.T) {
	recompressCuts(t, 200, nil).Report(t)
	res := recompressCuts(t, 240, func(s string) bool { return s == "(*Publisher).Commit<datasync.(*Client).recompress" })
	if len(res.Problems) == 0 {
		t.Error("without the fsync of the recompressed file, no cut finds a torn file shipped")
	} else {
		t.Logf("without the fsync of the recompressed file: %s", res.Problems[0])
	}
}
