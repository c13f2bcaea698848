package rollup

import (
	"testing"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/fileutil/cuttest"
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
	// Retention forgets the first day: once forget returns, its record
	// must stay gone (its rollups are dropped next).
	day := t0.Format("20060102")
	if err := s.forget(day); err != nil {
		return acked, err
	}
	for n := range acked {
		if n.Day() == day {
			acked[n] = forgotten
		}
	}
	return acked, nil
}

// forgotten marks, in stateScenario's answer, a file whose day's record
// was forgotten.
const forgotten = -1

// stateCuts cuts the power at random operations of stateScenario and
// opens the state as at boot.
func stateCuts(t *testing.T, n int, skip func(string) bool) cuttest.Result {
	return cuttest.Run(t, cuttest.Config{N: n, Seed: 9, Skip: skip}, stateScenario, func(c *cuttest.Cut[map[logfile.Name]int64]) {
		s, err := openState(c.Root)
		if err != nil {
			c.Fail("boot: %v", err)
			return
		}
		for n, size := range c.Acked {
			if size == forgotten {
				if _, ok := s.days[n.Day()][n.String()]; ok {
					c.Fail("%s: its day was forgotten and its record is back", n)
				}
				continue
			}
			if !s.has(n, size) {
				c.Fail("%s was recorded and is gone", n)
			}
		}
		for _, files := range s.days {
			for name, size := range files {
				if size%100 >= 3 {
					c.Fail("claims %s with size %d, never recorded", name, size)
				}
			}
		}
	})
}

// TestStatePowerCut cuts the power while midtable records its blocks and
// then forgets a day (retention): the state must open at boot (a torn
// record would stop midtable for good), hold every block whose record
// returned, claim nothing else, and not bring back a forgotten day. Then
// each fsync is dropped in turn and a cut must find it missing.
func TestStatePowerCut(t *testing.T) {
	res := stateCuts(t, 240, nil)
	res.Report(t)
	cuttest.EveryFsyncNeeded(t, res.Sites, nil, func(skip func(string) bool) cuttest.Result {
		return stateCuts(t, 240, skip)
	})
}
