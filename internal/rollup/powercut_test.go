package rollup

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/logfile"
)

// stateScenario records blocks of sync_files as midtable does after each
// block, over two days, and returns what the records that returned hold.
func stateScenario(dir string, fsys fileutil.FS) (map[logfile.Name]int64, error) {
	acked := make(map[logfile.Name]int64)
	s, err := openStateFS(fsys, dir)
	if err != nil {
		return acked, err
	}
	t0 := time.Date(2026, 11, 21, 0, 0, 0, 0, time.Local)
	for b := range 8 {
		day := t0.AddDate(0, 0, b/4)
		var files []pendingFile
		for k := range 3 {
			n := logfile.Name{Window: day.Add(time.Duration(b%4*3+k) * logfile.WindowLength), Gateway: "5F86F7A5", Table: 'A'}
			files = append(files, pendingFile{n: n, size: int64(100*b + k)})
		}
		if err := s.record(files[0].n.Day(), files); err != nil {
			return acked, err
		}
		for _, f := range files {
			acked[f.n] = f.size
		}
	}
	return acked, nil
}

// TestStatePowerCut cuts the power while midtable records its blocks: the
// state must open at boot (a torn record would stop midtable for good),
// hold every block whose record returned, and claim nothing else. Then
// each fsync is dropped in turn and a cut must find it missing.
func TestStatePowerCut(t *testing.T) {
	ref, _ := fileutil.NewCutFS(t.TempDir())
	if _, err := stateScenario(ref.Root(), ref); err != nil {
		t.Fatal(err)
	}
	total := ref.Ops()
	run := func(n int, skip func(string) bool) (cuts, inProgress int, problems []string) {
		rng := rand.New(rand.NewPCG(9, 9))
		for i := range n {
			if skip != nil && len(problems) > 0 {
				break
			}
			dir := t.TempDir()
			c, _ := fileutil.NewCutFS(dir)
			c.Skip = skip
			at := 1 + rng.IntN(total+1) // total+1: after the last operation
			c.CutAfter(at)
			acked, err := stateScenario(dir, c)
			if !errors.Is(err, fileutil.ErrCut) && (err != nil || at <= total) {
				t.Fatalf("cut %d: %v", i, err)
			}
			rep, err := c.Cut(rng)
			if err != nil {
				t.Fatal(err)
			}
			cuts++
			if rep.InProgress() {
				inProgress++
			}
			s, err := openState(dir)
			if err != nil {
				problems = append(problems, fmt.Sprintf("cut %d: boot: %v", i, err))
				continue
			}
			for n, size := range acked {
				if !s.has(n, size) {
					problems = append(problems, fmt.Sprintf("cut %d: %s was recorded and is gone", i, n))
				}
			}
			for _, files := range s.days {
				for name, size := range files {
					if size%100 >= 3 {
						problems = append(problems, fmt.Sprintf("cut %d: claims %s with size %d, never recorded", i, name, size))
					}
				}
			}
			os.RemoveAll(filepath.Join(dir, ".tmp"))
		}
		return cuts, inProgress, problems
	}
	cuts, inProgress, problems := run(240, nil)
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d cuts, %d hit work not yet durable; fsync sites %v", cuts, inProgress, ref.Sites)
	for site := range ref.Sites {
		_, _, problems := run(240, func(s string) bool { return s == site })
		if len(problems) == 0 {
			t.Errorf("without the fsync at %s no cut finds anything wrong", site)
			continue
		}
		t.Logf("without the fsync at %s: %s", site, problems[0])
	}
}
