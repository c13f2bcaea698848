package ledger_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/acstore/acstore/internal/ledger"
)

func TestLedger(t *testing.T) {
	dir := t.TempDir()
	l, err := ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Add("20261120", "20261120_1300_5F86F7A5_A.dat", 100))
	must(l.Append("20261121", "20261121_0000_5F86F7A5_A.dat", 200))
	must(l.Append("20261121", "20261121_0005_5F86F7A5_A.dat", 300))
	must(l.Sync())
	must(l.Close())
	// A crash in the middle of a line.
	f, _ := os.OpenFile(filepath.Join(dir, "20261121.ledger"), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("\n20261121_0010_5F86F7A5_A.dat 12")
	f.Close()

	l, err = ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cases := []struct {
		name string
		size int64
		want bool
	}{
		{"20261120_1300_5F86F7A5_A.dat", 100, true},
		{"20261120_1300_5F86F7A5_A.dat", 101, false}, // grew: load again
		{"20261121_0005_5F86F7A5_A.dat", 300, true},
		{"20261121_0010_5F86F7A5_A.dat", 1234, false},
		{"20261121_0015_5F86F7A5_A.dat", 1, false},
	}
	for _, c := range cases {
		if got := l.Has(c.name, c.size); got != c.want {
			t.Errorf("Has(%s, %d) = %v, want %v", c.name, c.size, got, c.want)
		}
	}
	// The line after the torn one is read.
	must(l.Add("20261121", "20261121_0020_5F86F7A5_A.dat", 5))
	l2, _ := ledger.Open(dir)
	if !l2.Has("20261121_0020_5F86F7A5_A.dat", 5) {
		t.Error("an entry written after a torn line was lost")
	}
	l2.Close()
	must(l.DropBefore("20261121"))
	if l.Has("20261120_1300_5F86F7A5_A.dat", 100) {
		t.Error("DropBefore kept an old day")
	}
	if _, err := os.Stat(filepath.Join(dir, "20261120.ledger")); !os.IsNotExist(err) {
		t.Errorf("old ledger file not removed: %v", err)
	}
	if err := l.Add("20261121", "bad name", 1); err == nil {
		t.Error("a name with a space was accepted")
	}
}

// TestLedgerConcurrent has writers of several gateways append, sync and
// read one ledger at once (head office loads gateways in parallel), with
// a day dropped meanwhile; run with -race. Reopened, the ledger holds
// every entry of the days kept, once, with its size, and every line of its
// files is whole: no two appends interleaved.
func TestLedgerConcurrent(t *testing.T) {
	dir := t.TempDir()
	l, err := ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const writers, files = 8, 150
	days := []string{"20261120", "20261121", "20261122"}
	name := func(w, i int) (day, n string) {
		day = days[i%len(days)]
		return day, fmt.Sprintf("%s_%04d_%08X_A.dat", day, i, w)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers+10)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range files {
				day, n := name(w, i)
				if err := l.Append(day, n, int64(w*files+i)); err != nil {
					errs <- err
					return
				}
				if !l.Has(n, int64(w*files+i)) {
					errs <- fmt.Errorf("%s not seen right after its Append", n)
					return
				}
				if i%5 == 4 {
					if err := l.Sync(); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- l.Sync()
		}()
	}
	wg.Add(1)
	go func() { // retention of a day nobody writes to
		defer wg.Done()
		for i := range 50 {
			if err := l.Add("20261101", fmt.Sprintf("20261101_%04d_5F86F7A5_A.dat", i), 1); err != nil {
				errs <- err
				return
			}
			if i%10 == 9 {
				if err := l.DropDay("20261101"); err != nil {
					errs <- err
					return
				}
			}
		}
		errs <- l.DropDay("20261101")
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l, err = ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for w := range writers {
		for i := range files {
			_, n := name(w, i)
			if got, ok := l.Size(n); !ok || got != int64(w*files+i) {
				t.Fatalf("%s: size %d (recorded %v), want %d", n, got, ok, w*files+i)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "20261101.ledger")); !os.IsNotExist(err) {
		t.Errorf("the dropped day's file is still there: %v", err)
	}
	entries := 0
	for _, day := range days {
		data, err := os.ReadFile(filepath.Join(dir, day+".ledger"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line == "" {
				continue
			}
			if f := strings.Fields(line); len(f) != 2 || !strings.HasPrefix(f[0], day+"_") {
				t.Fatalf("%s.ledger: line %q is not one whole entry", day, line)
			}
			entries++
		}
	}
	if entries != writers*files {
		t.Errorf("%d entries in the files, want %d (each once)", entries, writers*files)
	}
}
