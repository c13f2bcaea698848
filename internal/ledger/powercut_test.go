package ledger_test

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/ledger"
)

// ledgerScenario is loader's way with its ledger: each file is first made
// durable in "the table" (a file appended and fsynced through the same
// layer, standing for the database: the ledger's promise is about order,
// and a MyISAM table cannot be cut by this layer), then appended to the
// ledger, synced in batches of three; a day is dropped on the way. It
// returns the entries a returned Sync made durable.
func ledgerScenario(root string, fsys fileutil.FS) (acked map[string]int64, err error) {
	acked = make(map[string]int64)
	var pending []string
	sizes := make(map[string]int64)
	// The table first, in a directory of its own: its fsyncs must not
	// make the ledger's directory durable for it.
	db := filepath.Join(root, "db")
	if err := fileutil.MkdirAllFS(fsys, db); err != nil {
		return acked, err
	}
	table, err := fsys.OpenFile(filepath.Join(db, "table"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return acked, err
	}
	defer table.Close()
	if err := fsys.SyncDir(db); err != nil {
		return acked, err
	}
	l, err := ledger.OpenFS(fsys, filepath.Join(root, "ledger"))
	if err != nil {
		return acked, err
	}
	for k := range 30 {
		day := fmt.Sprintf("2026112%d", k/10)
		name := fmt.Sprintf("%s_%04d_5F86F7A5_A.dat", day, k)
		size := int64(1000 + k)
		if _, err := fmt.Fprintf(table, "%s %d\n", name, size); err != nil {
			return acked, err
		}
		if err := table.Sync(); err != nil {
			return acked, err
		}
		if err := l.Append(day, name, size); err != nil {
			return acked, err
		}
		pending, sizes[name] = append(pending, name), size
		if k%3 == 2 {
			if err := l.Sync(); err != nil {
				return acked, err
			}
			for _, n := range pending {
				acked[n] = sizes[n]
			}
			pending = pending[:0]
		}
		if k == 24 {
			if err := l.DropDay("20261120"); err != nil {
				return acked, err
			}
			for n := range acked {
				if strings.HasPrefix(n, "20261120") {
					delete(acked, n)
				}
			}
		}
	}
	return acked, l.Close()
}

// TestLedgerPowerCut cuts the power at random operations of the loading
// loop and reopens the ledger as at boot: it claims no file that is not in
// the table, claims each with the size written, holds every entry a
// returned Sync acknowledged, and reads no torn line as an entry.
func TestLedgerPowerCut(t *testing.T) {
	base := t.TempDir()
	res, sites := ledgerCuts(t, base, 300, 1, nil)
	for _, p := range res.problems {
		t.Error(p)
	}
	t.Logf("%d cuts, %d hit work not yet durable, %d left a torn line; fsync sites %v", res.cuts, res.inProgress, res.torn, slices.Sorted(maps.Keys(sites)))
	if res.inProgress < res.cuts/2 {
		t.Errorf("only %d of %d cuts hit work in progress", res.inProgress, res.cuts)
	}
}

// TestLedgerEveryFsyncNeeded drops each fsync site in turn: cuts must then
// find a broken promise.
func TestLedgerEveryFsyncNeeded(t *testing.T) {
	base := t.TempDir()
	_, sites := ledgerCuts(t, base, 30, 2, nil)
	if len(sites) < 3 {
		t.Fatalf("fsync sites %v", sites)
	}
	for _, site := range slices.Sorted(maps.Keys(sites)) {
		if strings.Contains(site, "ledger_test.") {
			continue // the table's own, standing for the database
		}
		res, _ := ledgerCuts(t, base, 300, 3, func(s string) bool { return s == site })
		if len(res.problems) == 0 {
			t.Errorf("without the fsync at %s, %d cuts find nothing wrong", site, res.cuts)
			continue
		}
		t.Logf("without the fsync at %s: cut %d of the run fails: %s", site, res.cuts, res.problems[0])
	}
}

type cutResult struct {
	cuts, inProgress, torn int
	problems               []string
}

func ledgerCuts(t *testing.T, base string, n int, seed uint64, skip func(string) bool) (cutResult, map[string]int) {
	ref, _ := fileutil.NewCutFS(t.TempDir())
	if _, err := ledgerScenario(ref.Root(), ref); err != nil {
		t.Fatal(err)
	}
	total := ref.Ops()
	rng := rand.New(rand.NewPCG(seed, 7))
	var res cutResult
	sites := make(map[string]int)
	for i := range n {
		if skip != nil && len(res.problems) > 0 {
			break
		}
		fail := func(format string, a ...any) {
			res.problems = append(res.problems, fmt.Sprintf("cut %d: ", i)+fmt.Sprintf(format, a...))
		}
		root, _ := os.MkdirTemp(base, "cut")
		c, _ := fileutil.NewCutFS(root)
		c.Skip = skip
		at := 1 + rng.IntN(total+1) // total+1: the cut comes after the last operation
		c.CutAfter(at)
		acked, err := ledgerScenario(root, c)
		if !errors.Is(err, fileutil.ErrCut) && (err != nil || at <= total) {
			t.Fatalf("cut %d: the loop ended with %v", i, err)
		}
		rep, err := c.Cut(rng)
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(sites, c.Sites)
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
		table := readPairs(filepath.Join(root, "db", "table"))
		l, err := ledger.Open(filepath.Join(root, "ledger"))
		if err != nil {
			fail("reopen: %v", err)
			continue
		}
		for name, size := range acked {
			if !l.Has(name, size) {
				fail("%s was acknowledged by Sync and is gone", name)
			}
		}
		paths, _ := filepath.Glob(filepath.Join(root, "ledger", "*.ledger"))
		for _, p := range paths {
			for name := range readPairs(p) {
				size, ok := l.Size(name)
				if !ok {
					continue // a torn line
				}
				if ts, in := table[name]; !in || ts != size {
					fail("the ledger claims %s (%d bytes); the table has %d, %v", name, size, ts, in)
				}
			}
		}
		// Loader goes on after the boot: a torn line must not become an
		// entry when the next one is appended.
		const next = "20261122_9999_5F86F7A5_A.dat"
		for _, day := range []string{"20261120", "20261121", "20261122"} {
			if err := l.Add(day, next, 1); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		l, err = ledger.Open(filepath.Join(root, "ledger"))
		if err != nil {
			fail("reopen after appending: %v", err)
			continue
		}
		for name := range table {
			if size, ok := l.Size(name); ok && size != table[name] {
				fail("after the next append the ledger claims %s (%d bytes); the table has %d", name, size, table[name])
			}
		}
		l.Close()
		os.RemoveAll(root)
	}
	return res, sites
}

func readPairs(path string) map[string]int64 {
	m := make(map[string]int64)
	f, err := os.Open(path)
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, size, ok := strings.Cut(sc.Text(), " ")
		if n, err := strconv.ParseInt(size, 10, 64); ok && err == nil {
			m[name] = n
		}
	}
	return m
}
