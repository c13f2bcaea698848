package ledger_test

import (
	"os"
	"path/filepath"
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
