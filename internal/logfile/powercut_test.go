package logfile_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/fileutil/cuttest"
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

// spoolCuts runs n cuts of the writer (and, every other time, a second
// cut during the boot that seals its files), checking the durable tree.
// It also counts the boots cut again.
func spoolCuts(t *testing.T, n int, seed uint64, skip func(string) bool) (cuttest.Result, int) {
	refRoot := t.TempDir()
	if _, err := cutScenario(refRoot, fileutil.OS); err != nil {
		t.Fatal(err)
	}
	want, werrs := syncRows(t, refRoot)
	if len(werrs) > 0 || len(want) != 8 {
		t.Fatalf("reference run: %d sync_files, errors %v", len(want), werrs)
	}
	rebootCuts := 0
	res := cuttest.Run(t, cuttest.Config{N: n, Seed: seed, Skip: skip}, cutScenario, func(c *cuttest.Cut[map[string]bool]) {
		root := c.Root
		durable := checkFound(t, c, want)
		// Boot: the spool seals the .part files, maybe cut again.
		boot := c.Boot()
		if c.I%2 == 1 {
			boot.CutAfter(1 + c.Rng.IntN(12))
		}
		_, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Codec: logfile.LZ4, FS: boot})
		if boot.Dead() {
			rebootCuts++
			if _, err := boot.Cut(c.Rng); err != nil {
				t.Fatal(err)
			}
			_, err = logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Codec: logfile.LZ4})
		}
		if err != nil {
			c.Fail("boot: %v", err)
			return
		}
		checkSealed(t, c, want, durable)
	})
	return res, rebootCuts
}

// checkFound checks the files a cut left, as found at boot, and returns the
// rows durable in each sync_file.
func checkFound(t *testing.T, c *cuttest.Cut[map[string]bool], want map[string][]string) map[string][]string {
	root := c.Root
	// As found at boot: every load_file's rows are durable in its
	// sync_file, and what a sync_file reads is whole rows in order.
	durable, _ := syncRows(t, root)
	for name, rows := range durable {
		if !isPrefix(rows, want[name]) {
			c.Fail("%s reads %d rows that are not a prefix of the %d written", name, len(rows), len(want[name]))
		}
	}
	for name := range c.Acked {
		if _, err := os.Stat(filepath.Join(root, "sync", gw, name[:8], name)); err != nil {
			c.Fail("%s was published before the cut and is gone: %v", name, err)
		}
	}
	loads, _, bad := loadRows(root)
	for _, b := range bad {
		c.Fail("load_file %s", b)
	}
	for name, rows := range loads {
		for _, r := range rows {
			if !slices.Contains(durable[name], r) {
				c.Fail("a load_file of %s holds a row not durable in the sync_file", name)
				break
			}
		}
	}
	return durable
}

// checkSealed checks the files after boot sealed them.
func checkSealed(t *testing.T, c *cuttest.Cut[map[string]bool], want, durable map[string][]string) {
	root := c.Root
	// After boot: sealed files read whole, keep every durable row,
	// and loader is owed every row exactly: by load_files or a
	// backfill marker.
	sealed, serrs := syncRows(t, root)
	for name, err := range serrs {
		c.Fail("after boot %s: %v", name, err)
	}
	loads, backfill, _ := loadRows(root)
	for name, rows := range durable {
		if !isPrefix(rows, sealed[name]) {
			c.Fail("boot lost rows of %s: %d durable, %d after", name, len(rows), len(sealed[name]))
		}
	}
	for name, rows := range sealed {
		if !isPrefix(rows, want[name]) {
			c.Fail("after boot %s holds rows not written", name)
		}
		got := slices.Clone(loads[name])
		sort.Strings(got)
		all := slices.Clone(rows)
		sort.Strings(all)
		if !backfill[name] && !slices.Equal(got, all) {
			c.Fail("%s: loader is owed %d rows, load_files hold %d and no backfill marker", name, len(all), len(got))
		}
	}
}

// TestSpoolPowerCut cuts the power under the writer at random operations
// (each write, fsync, rename, create is one) and checks what a boot finds:
// no load_file names a row not durable in its sync_file, a torn sync_file
// reads exactly whole rows of the ones written, a published sync_file stays
// published, the boot loses nothing durable even if cut itself, and loader
// is owed every row (load_files or a backfill marker).
func TestSpoolPowerCut(t *testing.T) {
	res, rebootCuts := spoolCuts(t, 240, 1, nil)
	res.Report(t)
	t.Logf("%d boots cut again", rebootCuts)
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
	res, _ := spoolCuts(t, 40, 2, nil)
	if len(res.Sites) < 5 {
		t.Fatalf("only %d fsync sites seen: %v", len(res.Sites), res.Sites)
	}
	cuttest.EveryFsyncNeeded(t, res.Sites, redundantFsync, func(skip func(string) bool) cuttest.Result {
		res, _ := spoolCuts(t, 400, 3, skip)
		return res
	})
}
