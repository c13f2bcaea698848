package logfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
)

// cutScenario is the writer a power cut stops: rows of two tables over
// three windows, small frames, flushes, windows closed by Advance, and late
// rows that reopen a published sync_file. It returns at the first error
// (the cut) and the names whose publication returned.
func cutScenario(root string, fsys fileutil.FS) (published map[string]bool, err error) {
	published = make(map[string]bool)
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Codec: logfile.LZ4, MaxFrameBytes: 600, FS: fsys})
	if err != nil {
		return published, err
	}
	g := rowgen.New(7, true)
	tables := []byte{'Q', 'A'}
	notePublished := func() {
		logfile.WalkSync(root, func(path string, n logfile.Name) error {
			published[filepath.Base(path)] = true
			return nil
		})
	}
	for k := 0; k < 70; k++ {
		ts := t0.Add(time.Duration(k) * 13 * time.Second)
		if k == 55 || k == 56 {
			ts = t0 // late rows: the first window is published by now
			for _, l := range tables {
				delete(published, logfile.Name{Window: logfile.WindowStart(ts), Gateway: gw, Table: l}.String())
			}
		}
		tb, _ := schema.ByLetter(tables[k%2])
		if err := g.Row(sp, tb, ts); err != nil {
			return published, err
		}
		if k%6 == 5 {
			if err := sp.Flush(); err != nil {
				return published, err
			}
		}
		if k%9 == 8 {
			if err := sp.Advance(ts); err != nil {
				return published, err
			}
			notePublished()
		}
	}
	if err := sp.Close(); err != nil {
		return published, err
	}
	notePublished()
	return published, nil
}

// syncRows reads every sync_file (published or .part) under root: rows by
// file name (without .part), and the reader's error.
func syncRows(t *testing.T, root string) (map[string][]string, map[string]error) {
	rows, errs := make(map[string][]string), make(map[string]error)
	paths, _ := filepath.Glob(filepath.Join(root, "sync", gw, "*", "*"))
	for _, p := range paths {
		base := strings.TrimSuffix(filepath.Base(p), ".part")
		if _, err := logfile.ParseName(base, time.Local); err != nil {
			continue
		}
		if _, dup := rows[base]; dup {
			errs[base] = fmt.Errorf("both %s and its .part exist", base)
		}
		r, err := readAll(t, p, logfile.LZ4)
		rows[base] = r
		if err != nil {
			errs[base] = err
		}
	}
	return rows, errs
}

// loadRows reads the load_files: rows by sync_file name; and the names
// with a backfill marker.
func loadRows(root string) (map[string][]string, map[string]bool, []string) {
	rows, backfill := make(map[string][]string), make(map[string]bool)
	var bad []string
	ents, _ := os.ReadDir(logfile.LoadDir(root))
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || name[0] == '.' {
			continue
		}
		if b, ok := strings.CutSuffix(name, logfile.BackfillExt); ok {
			backfill[b] = true
			continue
		}
		ln, err := logfile.ParseLoadName(name, time.Local)
		if err != nil {
			bad = append(bad, name+": "+err.Error())
			continue
		}
		b, _ := os.ReadFile(filepath.Join(logfile.LoadDir(root), name))
		if len(b) == 0 || b[len(b)-1] != '\n' {
			bad = append(bad, fmt.Sprintf("%s: not a whole flush (%d bytes)", name, len(b)))
			continue
		}
		for _, r := range bytes.SplitAfter(b[:len(b)-1], []byte("\n")) {
			rows[ln.Sync.String()] = append(rows[ln.Sync.String()], strings.TrimSuffix(string(r), "\n"))
		}
	}
	return rows, backfill, bad
}

func isPrefix(got, want []string) bool {
	return len(got) <= len(want) && slices.Equal(got, want[:len(got)])
}

type cutResult struct {
	cuts, inProgress, torn, rebootCuts int
	problems                           []string
}

// spoolCuts runs n cuts of the writer (and, every other time, a second
// cut during the boot that seals its files), checking the durable tree.
func spoolCuts(t *testing.T, n int, seed uint64, skip func(string) bool) (cutResult, map[string]int) {
	base := t.TempDir()
	refRoot := filepath.Join(base, "ref")
	os.MkdirAll(refRoot, 0o755)
	ref, err := fileutil.NewCutFS(refRoot)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cutScenario(refRoot, ref); err != nil {
		t.Fatal(err)
	}
	total := ref.Ops()
	want, werrs := syncRows(t, refRoot)
	if len(werrs) > 0 || len(want) != 8 {
		t.Fatalf("reference run: %d sync_files, errors %v", len(want), werrs)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	var res cutResult
	sites := make(map[string]int)
	for i := range n {
		if skip != nil && len(res.problems) > 0 {
			break // the knob test needs one failure
		}
		root := filepath.Join(base, fmt.Sprint(i))
		os.MkdirAll(root, 0o755)
		fail := func(format string, a ...any) {
			res.problems = append(res.problems, fmt.Sprintf("cut %d: ", i)+fmt.Sprintf(format, a...))
		}
		c, _ := fileutil.NewCutFS(root)
		c.Skip = skip
		at := 1 + rng.IntN(total+1) // total+1: the cut comes after the last operation
		c.CutAfter(at)
		published, err := cutScenario(root, c)
		if !errors.Is(err, fileutil.ErrCut) && (err != nil || at <= total) {
			t.Fatalf("cut %d at op %d of %d: the writer ended with %v", i, at, total, err)
		}
		rep, err := c.Cut(rng)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.Sites {
			sites[k] += v
		}
		res.cuts++
		if rep.InProgress() {
			res.inProgress++
		}
		if rep.TornFiles > 0 {
			res.torn++
		}
		if len(rep.Outside) > 0 {
			fail("written outside the file layer: %v", rep.Outside)
		}
		// As found at boot: every load_file's rows are durable in its
		// sync_file, and what a sync_file reads is whole rows in order.
		durable, _ := syncRows(t, root)
		for name, rows := range durable {
			if !isPrefix(rows, want[name]) {
				fail("%s reads %d rows that are not a prefix of the %d written", name, len(rows), len(want[name]))
			}
		}
		for name := range published {
			if _, err := os.Stat(filepath.Join(root, "sync", gw, name[:8], name)); err != nil {
				fail("%s was published before the cut and is gone: %v", name, err)
			}
		}
		loads, _, bad := loadRows(root)
		for _, b := range bad {
			fail("load_file %s", b)
		}
		for name, rows := range loads {
			for _, r := range rows {
				if !slices.Contains(durable[name], r) {
					fail("a load_file of %s holds a row not durable in the sync_file", name)
					break
				}
			}
		}
		// Boot: the spool seals the .part files, maybe cut again.
		c2, _ := fileutil.NewCutFS(root)
		c2.Skip = skip
		if i%2 == 1 {
			c2.CutAfter(1 + rng.IntN(12))
		}
		_, err = logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Codec: logfile.LZ4, FS: c2})
		if c2.Dead() {
			res.rebootCuts++
			if _, err := c2.Cut(rng); err != nil {
				t.Fatal(err)
			}
			_, err = logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Codec: logfile.LZ4})
		}
		if err != nil {
			fail("boot: %v", err)
			continue
		}
		for k, v := range c2.Sites {
			sites[k] += v
		}
		// After boot: sealed files read whole, keep every durable row,
		// and loader is owed every row exactly: by load_files or a
		// backfill marker.
		sealed, serrs := syncRows(t, root)
		for name, err := range serrs {
			fail("after boot %s: %v", name, err)
		}
		loads, backfill, _ := loadRows(root)
		for name, rows := range durable {
			if !isPrefix(rows, sealed[name]) {
				fail("boot lost rows of %s: %d durable, %d after", name, len(rows), len(sealed[name]))
			}
		}
		for name, rows := range sealed {
			if !isPrefix(rows, want[name]) {
				fail("after boot %s holds rows not written", name)
			}
			got := slices.Clone(loads[name])
			sort.Strings(got)
			all := slices.Clone(rows)
			sort.Strings(all)
			if !backfill[name] && !slices.Equal(got, all) {
				fail("%s: loader is owed %d rows, load_files hold %d and no backfill marker", name, len(all), len(got))
			}
		}
	}
	return res, sites
}

// TestSpoolPowerCut cuts the power under the writer at random operations
// (each write, fsync, rename, create is one) and checks what a boot finds:
// no load_file names a row not durable in its sync_file, a torn sync_file
// reads exactly whole rows of the ones written, a published sync_file stays
// published, the boot loses nothing durable even if cut itself, and loader
// is owed every row (load_files or a backfill marker).
func TestSpoolPowerCut(t *testing.T) {
	res, sites := spoolCuts(t, 240, 1, nil)
	for _, p := range res.problems {
		t.Error(p)
	}
	t.Logf("%d cuts, %d hit work not yet durable, %d left a torn tail, %d boots cut again; fsync sites %d",
		res.cuts, res.inProgress, res.torn, res.rebootCuts, len(sites))
	if res.inProgress < res.cuts/2 {
		t.Errorf("only %d of %d cuts hit work in progress", res.inProgress, res.cuts)
	}
}

// redundantFsync are the fsyncs no spool cut can miss, and why they stay.
var redundantFsync = map[string]string{
	"SyncDirFS<RenameFS<(*Publisher).Commit<WriteFileFS<logfile.(*Spool).rewrite": "rewrite runs only when the boot seals a torn .part, " +
		"and the seal's rename to the final name fsyncs the same directory; if both are lost, the old torn .part " +
		"still reads to its last whole frame. It is fileutil.WriteFileFS's own directory fsync, kept for its other callers",
}

// TestSpoolEveryFsyncNeeded drops each fsync site of the spool in turn
// (the CutFS knob) and checks that the cuts then find a broken promise:
// no fsync is there for nothing.
func TestSpoolEveryFsyncNeeded(t *testing.T) {
	_, sites := spoolCuts(t, 40, 2, nil)
	if len(sites) < 5 {
		t.Fatalf("only %d fsync sites seen: %v", len(sites), sites)
	}
	for _, site := range slices.Sorted(maps.Keys(sites)) {
		if why, ok := redundantFsync[site]; ok {
			t.Logf("not needed by the spool, kept: %s: %s", site, why)
			continue
		}
		res, _ := spoolCuts(t, 400, 3, func(s string) bool { return s == site })
		if len(res.problems) == 0 {
			t.Errorf("without the fsync at %s, %d cuts find nothing wrong", site, res.cuts)
			continue
		}
		t.Logf("without the fsync at %s: cut %d of the run fails: %s", site, res.cuts, res.problems[0])
	}
}
