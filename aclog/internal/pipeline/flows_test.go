package pipeline_test

import (
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
)

// TestFlowsMatchSessions holds F and T, what every traffic report sums, to
// the A rows on every bundled capture: per user, app and day the F bytes
// and packets add up to the A rows' and the F sessions to the number of A
// rows; each T row lies inside its 5-minute window and counts exactly the
// minutes in which F has traffic for that address.
func TestFlowsMatchSessions(t *testing.T) {
	var caps []string
	filepath.WalkDir("../../testdata/pcaps", func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
			caps = append(caps, p)
		}
		return err
	})
	if len(caps) < 50 {
		t.Fatalf("found %d bundled captures, want the 52 of testdata/pcaps", len(caps))
	}
	var totalA int
	for _, c := range caps {
		t.Run(filepath.Base(c), func(t *testing.T) {
			root := t.TempDir()
			runFiles(t, root, nil, c)
			rows := map[byte][]row{}
			for _, l := range []byte("AFT") {
				for _, r := range readRows(t, root, l) {
					rows[l] = append(rows[l], r)
				}
			}
			totalA += len(rows['A'])
			checkFlows(t, rows)
			checkOnline(t, rows)
		})
	}
	if totalA < 350 { // 379 today
		t.Errorf("only %d A rows over every capture: the comparison saw too little", totalA)
	}
}

// row is one decoded row, by column name.
type row map[string]string

func (r row) uint(t *testing.T, col string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(r[col], 10, 64)
	if err != nil {
		t.Fatalf("%s %q: %v", col, r[col], err)
	}
	return v
}

func (r row) time(t *testing.T, col string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation(logfile.TimeLayout, r[col], time.Local)
	if err != nil {
		t.Fatalf("%s %q: %v", col, r[col], err)
	}
	return v
}

type flowSum struct{ up, down, packets, sessions uint64 }

func checkFlows(t *testing.T, rows map[byte][]row) {
	t.Helper()
	key := func(r row) string {
		return r["user"] + "|" + r["app_type"] + "|" + r["app"] + "|" + r["ts"][:10]
	}
	fromA, fromF := map[string]flowSum{}, map[string]flowSum{}
	for _, r := range rows['A'] {
		s := fromA[key(r)]
		s.up += r.uint(t, "bytes_up")
		s.down += r.uint(t, "bytes_down")
		s.packets += r.uint(t, "pkts_up") + r.uint(t, "pkts_down")
		s.sessions++
		fromA[key(r)] = s
	}
	for _, r := range rows['F'] {
		s := fromF[key(r)]
		s.up += r.uint(t, "bytes_up")
		s.down += r.uint(t, "bytes_down")
		s.packets += r.uint(t, "packets")
		s.sessions += r.uint(t, "sessions")
		fromF[key(r)] = s
	}
	if len(rows['A']) == 0 && len(rows['F']) == 0 {
		return
	}
	if len(fromA) != len(fromF) {
		t.Errorf("%d user/app/day groups in A, %d in F", len(fromA), len(fromF))
	}
	for k, a := range fromA {
		if f := fromF[k]; f != a {
			t.Errorf("%s: F sums %+v, A sums %+v", k, f, a)
		}
	}
}

func checkOnline(t *testing.T, rows map[byte][]row) {
	t.Helper()
	// Minutes with traffic per address and window, from F.
	type key struct{ ip, window string }
	fMinutes := map[key]map[string]bool{}
	for _, r := range rows['F'] {
		m := r.time(t, "ts")
		k := key{r["ip"], logfile.WindowStart(m).Format(logfile.TimeLayout)}
		if fMinutes[k] == nil {
			fMinutes[k] = map[string]bool{}
		}
		fMinutes[k][r["ts"]] = true
	}
	seen := map[key]bool{}
	for _, r := range rows['T'] {
		w := r.time(t, "ts")
		first, last := r.time(t, "first_seen"), r.time(t, "last_seen")
		minutes, secs := r.uint(t, "active_minutes"), r.uint(t, "online_seconds")
		end := w.Add(logfile.WindowLength)
		if !w.Equal(logfile.WindowStart(w)) || first.Before(w) || !last.Before(end) || last.Before(first) {
			t.Errorf("T row outside its window %v: first %v last %v", w, first, last)
		}
		if minutes < 1 || minutes > uint64(logfile.WindowLength/time.Minute) || secs > uint64(logfile.WindowLength/time.Second) {
			t.Errorf("T row %v %s: %d minutes, %d s do not fit a %v window", w, r["user"], minutes, secs, logfile.WindowLength)
		}
		if d := last.Sub(first).Round(time.Second); uint64(d/time.Second) != secs {
			t.Errorf("T row %v %s: online %d s, first to last is %v", w, r["user"], secs, d)
		}
		k := key{r["ip"], r["ts"]}
		if seen[k] {
			t.Errorf("two T rows for %s in window %v", r["ip"], w)
		}
		seen[k] = true
		if got := len(fMinutes[k]); uint64(got) != minutes {
			t.Errorf("T row %v %s: %d active minutes, F has traffic in %d", w, r["ip"], minutes, got)
		}
	}
	for k := range fMinutes {
		if !seen[k] {
			t.Errorf("F traffic for %s in window %s but no T row", k.ip, k.window)
		}
	}
}
