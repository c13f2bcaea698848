package source

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
)

func TestNaturalLess(t *testing.T) {
	names := []string{"cap.pcap10", "cap.pcap", "cap.pcap2", "cap.pcap1", "a-20260101-000102.pcap", "a-20260101-000059.pcap"}
	want := []string{"a-20260101-000059.pcap", "a-20260101-000102.pcap", "cap.pcap", "cap.pcap1", "cap.pcap2", "cap.pcap10"}
	for i := range names {
		for j := range names {
			a, b := names[i], names[j]
			ia, ib := indexOf(want, a), indexOf(want, b)
			if NaturalLess(a, b) != (ia < ib) {
				t.Errorf("NaturalLess(%q, %q) = %v", a, b, !(ia < ib))
			}
		}
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

const testdata = "../../testdata/pcaps"

// TestExpand: a directory becomes its captures in the order of their first
// packet, whatever their names; "DIR YYYYMMDD" keeps that day's; files stay.
func TestExpand(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join(testdata, "mixed/tls-subjectaltname_input.pcap"), filepath.Join(dir, "a.pcap")) // 2022-03-17
	copyFile(t, filepath.Join(testdata, "smtp/smtp.pcap"), filepath.Join(dir, "b.pcap"))                      // 2009-10-05
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a capture"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden.pcap"), nil, 0o644)
	day := func(p string) string {
		first, err := FirstPacket(p)
		if err != nil {
			t.Fatal(err)
		}
		return first.Local().Format("20060102")
	}
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	for _, tc := range []struct {
		args    []string
		day     string
		want    []string
		skipped int
	}{
		{[]string{dir}, "", []string{b, a}, 1},
		{[]string{dir, day(a)}, "", []string{a}, 1},
		{[]string{dir}, day(b), []string{b}, 1},
		{[]string{"x.pcap", dir, "19990101"}, "", []string{"x.pcap"}, 1},
	} {
		got, skipped, err := Expand(tc.args, tc.day)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if !reflect.DeepEqual(got, tc.want) || len(skipped) != tc.skipped {
			t.Errorf("Expand(%v, %q) = %v, skipped %v; want %v", tc.args, tc.day, got, skipped, tc.want)
		}
	}
	if _, _, err := Expand([]string{"20260101"}, ""); err == nil {
		t.Error("a day without a directory before it: no error")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLedger: a capture begun is unfinished until Finish; after a reopen
// it keeps its slot; a torn last line of done.log is cut, the rest kept.
func TestLedger(t *testing.T) {
	root := t.TempDir()
	l, err := OpenLedger(root)
	if err != nil {
		t.Fatal(err)
	}
	k1, k2 := Key{1}, Key{2}
	o1, _ := l.Begin(k1, "one.pcap")
	o2, _ := l.Begin(k2, "two.pcap")
	n := logfile.Name{Window: time.Date(2026, 1, 1, 0, 5, 0, 0, time.Local), Gateway: "5F86F7A5", Table: 'A'}
	n2 := n
	n2.Table = 'Q'
	if err := l.Touch(o2, n, n2); err != nil {
		t.Fatal(err)
	}
	if err := l.Touch(o2, n2); err != nil { // recorded already: kept once
		t.Fatal(err)
	}
	first := time.Unix(1767225600, 0)
	if err := l.Finish(o1, first, first.Add(time.Minute), 42); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// A crash while appending the next line.
	f, _ := os.OpenFile(filepath.Join(Dir(root), doneFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("0203 7 12")
	f.Close()

	l, err = OpenLedger(root)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, ok := l.Done(k1)
	if !ok || d.Slot != o1.Slot || d.Rows != 42 || !d.First.Equal(first) || d.Name != "one.pcap" {
		t.Errorf("done: %+v %v", d, ok)
	}
	un := l.Unfinished()
	if len(un) != 1 || un[0].Key != k2 || un[0].Slot != o2.Slot || !reflect.DeepEqual(un[0].Windows, []string{n.String(), n2.String()}) {
		t.Errorf("unfinished: %+v", un)
	}
	o3, _ := l.Begin(Key{3}, "three.pcap")
	if o3.Slot == o1.Slot || o3.Slot == o2.Slot || o3.Slot == 0 {
		t.Errorf("a new capture got slot %d (others %d, %d)", o3.Slot, o1.Slot, o2.Slot)
	}
	again, _ := l.Begin(k1, "one-renamed.pcap")
	if again.Slot != o1.Slot {
		t.Errorf("reprocessing got slot %d, had %d", again.Slot, o1.Slot)
	}
	// Every capture done, the first one reprocessed last: the next new
	// capture still gets a slot of its own.
	for _, o := range []*Open{o2, o3, again} {
		if err := l.Finish(o, first, first, 1); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	l, err = OpenLedger(root)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	o4, _ := l.Begin(Key{4}, "four.pcap")
	for _, o := range []*Open{o1, o2, o3} {
		if o4.Slot == o.Slot {
			t.Errorf("a new capture after a reprocessed one got slot %d, already %s's", o4.Slot, o.Name)
		}
	}
}
