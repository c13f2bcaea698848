package ledger_test

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/fileutil/cuttest"
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
	ledgerCuts(t, 300, 1, nil).Report(t)
}

// TestLedgerEveryFsyncNeeded drops each fsync site in turn: cuts must then
// find a broken promise.
func TestLedgerEveryFsyncNeeded(t *testing.T) {
	sites := ledgerCuts(t, 30, 2, nil).Sites
	// The table's own, standing for the database.
	maps.DeleteFunc(sites, func(site string, _ int) bool { return strings.Contains(site, "ledger_test.") })
	if len(sites) < 3 {
		t.Fatalf("fsync sites %v", sites)
	}
	cuttest.EveryFsyncNeeded(t, sites, nil, func(skip func(string) bool) cuttest.Result {
		return ledgerCuts(t, 300, 3, skip)
	})
}

func ledgerCuts(t *testing.T, n int, seed uint64, skip func(string) bool) cuttest.Result {
	return cuttest.Run(t, cuttest.Config{N: n, Seed: seed, Skip: skip}, ledgerScenario, func(c *cuttest.Cut[map[string]int64]) {
		root := c.Root
		table := readPairs(filepath.Join(root, "db", "table"))
		l, err := ledger.Open(filepath.Join(root, "ledger"))
		if err != nil {
			c.Fail("reopen: %v", err)
			return
		}
		for name, size := range c.Acked {
			if !l.Has(name, size) {
				c.Fail("%s was acknowledged by Sync and is gone", name)
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
					c.Fail("the ledger claims %s (%d bytes); the table has %d, %v", name, size, ts, in)
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
			c.Fail("reopen after appending: %v", err)
			return
		}
		for name := range table {
			if size, ok := l.Size(name); ok && size != table[name] {
				c.Fail("after the next append the ledger claims %s (%d bytes); the table has %d", name, size, table[name])
			}
		}
		l.Close()
	})
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
