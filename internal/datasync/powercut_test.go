package datasync

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
)

// recompressCuts cuts the power during the recompression of an LZ4
// sync_file to xz, then recompresses again as the next pass does: it must
// ship the whole file. A file found under the outgoing name is reused as is
// (a resumed upload sends the same bytes), so a torn one would be shipped
// and committed as complete. Returns the cuts that went wrong.
func recompressCuts(t *testing.T, n int, skip func(string) bool) (cuts, inProgress int, problems []string) {
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
	os.MkdirAll(filepath.Join(refRoot, "state"), 0o755)
	ref, _ := fileutil.NewCutFS(refRoot)
	out, err := client(refRoot, ref).recompress(lf)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(out)
	total := ref.Ops()
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range n {
		if skip != nil && len(problems) > 0 {
			break
		}
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "state"), 0o755)
		c, _ := fileutil.NewCutFS(root)
		c.Skip = skip
		at := 1 + rng.IntN(total+1) // total+1: the cut comes after the last operation
		c.CutAfter(at)
		if _, err := client(root, c).recompress(lf); !errors.Is(err, fileutil.ErrCut) && (err != nil || at <= total) {
			t.Fatalf("cut %d: recompress ended with %v", i, err)
		}
		rep, err := c.Cut(rng)
		if err != nil {
			t.Fatal(err)
		}
		cuts++
		if rep.InProgress() {
			inProgress++
		}
		if len(rep.Outside) > 0 {
			problems = append(problems, "written outside the file layer")
		}
		out, err := client(root, fileutil.OS).recompress(lf)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
			problems = append(problems, "after the cut the next pass ships "+filepath.Base(out)+" torn")
		}
	}
	return cuts, inProgress, problems
}

// TestRecompressPowerCut: after a power cut at any point of a
// recompression, the next pass ships the whole file; and the fsync of the
// recompressed file is needed for that (its directory's is not: a lost
// entry only redoes a deterministic recompression).
func TestRecompressPowerCut(t *testing.T) {
	cuts, inProgress, problems := recompressCuts(t, 200, nil)
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d cuts, %d hit work not yet durable", cuts, inProgress)
	if inProgress < cuts/2 {
		t.Errorf("only %d of %d cuts hit work in progress", inProgress, cuts)
	}
	_, _, problems = recompressCuts(t, 240, func(s string) bool { return s == "(*Publisher).Commit<datasync.(*Client).recompress" })
	if len(problems) == 0 {
		t.Error("without the fsync of the recompressed file, no cut finds a torn file shipped")
	} else {
		t.Logf("without the fsync of the recompressed file: %s", problems[0])
	}
}
