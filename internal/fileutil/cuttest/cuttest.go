// Package cuttest drives the power-cut tests, the one loop they share: run
// a scenario once through a CutFS to count its operations, then again and
// again on a fresh tree with the power cut at a random one of them (or
// after the last), rewrite the tree as a boot would find it, and let the
// test check it. EveryFsyncNeeded then drops each fsync site in turn and
// requires the cuts to find a broken promise: no fsync is there for
// nothing.
package cuttest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/acstore/acstore/internal/fileutil"
)

// Config is one series of cuts.
type Config struct {
	N    int    // cuts
	Seed uint64 // of the cut points and torn writes
	// Skip drops the fsyncs at the sites it returns true for (CutFS.Skip);
	// the series then stops at the first problem.
	Skip func(site string) bool
	// Setup, if set, prepares each fresh tree (the reference run's too)
	// before the CutFS takes it as durable.
	Setup func(root string) error
}

// Result is what a series found.
type Result struct {
	Cuts       int
	InProgress int // cuts that dropped work not yet durable
	Torn       int // cuts that left a torn tail
	Sites      map[string]int
	Problems   []string
}

// Cut is one cut, as the check sees it.
type Cut[R any] struct {
	I      int
	Root   string // the tree as a boot finds it
	Acked  R      // what the scenario had acknowledged when the power went
	Report fileutil.CutReport
	Rng    *rand.Rand
	res    *Result
	skip   func(string) bool
	boots  []*fileutil.CutFS
}

// Fail records a broken promise.
func (c *Cut[R]) Fail(format string, a ...any) {
	c.res.Problems = append(c.res.Problems, fmt.Sprintf("cut %d: ", c.I)+fmt.Sprintf(format, a...))
}

// Boot returns a CutFS over the booted tree with the series' Skip, whose
// fsyncs are counted: for a boot that may be cut again.
func (c *Cut[R]) Boot() *fileutil.CutFS {
	fs, err := fileutil.NewCutFS(c.Root)
	if err != nil {
		panic(err) // the tree was just written by Cut
	}
	fs.Skip = c.skip
	c.boots = append(c.boots, fs)
	return fs
}

// Run runs the series. scenario runs the writer on root through fsys and
// returns what it acknowledged (a cut makes it return early with an error
// wrapping fileutil.ErrCut); check gets each cut and calls Fail.
func Run[R any](t testing.TB, cfg Config, scenario func(root string, fsys fileutil.FS) (R, error), check func(c *Cut[R])) Result {
	t.Helper()
	base := t.TempDir()
	fresh := func(name string) string {
		root := filepath.Join(base, name)
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if cfg.Setup != nil {
			if err := cfg.Setup(root); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	total := referenceOps(t, fresh("ref"), scenario)
	res := Result{Sites: make(map[string]int)}
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	for i := range cfg.N {
		if cfg.Skip != nil && len(res.Problems) > 0 {
			break // showing a site needed takes one problem
		}
		root := fresh(fmt.Sprint(i))
		fs, err := fileutil.NewCutFS(root)
		if err != nil {
			t.Fatal(err)
		}
		fs.Skip = cfg.Skip
		at := 1 + rng.IntN(total+1) // total+1: the cut comes after the last operation
		fs.CutAfter(at)
		acked, err := scenario(root, fs)
		if !errors.Is(err, fileutil.ErrCut) && (err != nil || at <= total) {
			t.Fatalf("cut %d at operation %d of %d: the scenario ended with %v", i, at, total, err)
		}
		rep, err := fs.Cut(rng)
		if err != nil {
			t.Fatal(err)
		}
		c := &Cut[R]{I: i, Root: root, Acked: acked, Report: rep, Rng: rng, res: &res, skip: cfg.Skip}
		res.count(rep)
		if len(rep.Outside) > 0 {
			c.Fail("written outside the file layer: %v", rep.Outside)
		}
		check(c)
		res.addSites(append(c.boots, fs))
		os.RemoveAll(root)
	}
	return res
}

// referenceOps runs the scenario once in root without a cut: the number
// of file operations it makes, among which the cuts fall.
func referenceOps[R any](t testing.TB, root string, scenario func(root string, fsys fileutil.FS) (R, error)) int {
	t.Helper()
	ref, err := fileutil.NewCutFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scenario(ref.Root(), ref); err != nil {
		t.Fatalf("reference run: %v", err)
	}
	total := ref.Ops()
	os.RemoveAll(ref.Root())
	return total
}

// count counts one cut and what it dropped.
func (r *Result) count(rep fileutil.CutReport) {
	r.Cuts++
	if rep.InProgress() {
		r.InProgress++
	}
	if rep.TornFiles > 0 {
		r.Torn++
	}
}

// addSites adds the fsyncs per site done by the file layers of one cut
// (its run and its boots).
func (r *Result) addSites(fss []*fileutil.CutFS) {
	for _, f := range fss {
		for k, v := range f.Sites {
			r.Sites[k] += v
		}
	}
}

// Report fails the test on each problem, logs the counts, and requires
// most cuts to have hit work in progress (else the cut points miss the
// work and prove little).
func (r Result) Report(t testing.TB) {
	t.Helper()
	for _, p := range r.Problems {
		t.Error(p)
	}
	t.Logf("%d cuts, %d hit work not yet durable, %d left a torn tail; fsync sites %v", r.Cuts, r.InProgress, r.Torn, slices.Sorted(maps.Keys(r.Sites)))
	if r.InProgress < r.Cuts/2 {
		t.Errorf("only %d of %d cuts hit work in progress", r.InProgress, r.Cuts)
	}
}

// EveryFsyncNeeded drops each of sites in turn (run is a series with that
// Skip) and fails the test for a site whose loss no cut finds. kept names
// the sites no cut can miss and why they stay.
func EveryFsyncNeeded(t testing.TB, sites map[string]int, kept map[string]string, run func(skip func(string) bool) Result) {
	t.Helper()
	for _, site := range slices.Sorted(maps.Keys(sites)) {
		if why, ok := kept[site]; ok {
			t.Logf("not needed by these cuts, kept: %s: %s", site, why)
			continue
		}
		res := run(func(s string) bool { return s == site })
		if len(res.Problems) == 0 {
			t.Errorf("without the fsync at %s, %d cuts find nothing wrong", site, res.Cuts)
			continue
		}
		t.Logf("without the fsync at %s: cut %d of the series fails: %s", site, res.Cuts, res.Problems[0])
	}
}
