package logfile_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
)

// zoneSweep returns times in steps of a few seconds (and a few random
// jumps) around changes of UTC offset in zones with whole-hour, half-hour
// and 45-minute offsets and DST steps, one in the middle of a window, and around midnights before 1970
// and after 9999, each in its zone: what the spool's caches of the last
// zone period, day and window must get right.
func zoneSweep(t *testing.T) []time.Time {
	t.Helper()
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	ny, lordHowe, kathmandu := load("America/New_York"), load("Australia/Lord_Howe"), load("Asia/Kathmandu")
	odd := time.FixedZone("odd", -(3*3600 + 17*60 + 30))
	centres := []time.Time{
		time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC).In(ny),          // DST starts
		time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC).In(ny),         // DST ends
		time.Date(2026, 4, 4, 15, 0, 0, 0, time.UTC).In(lordHowe),   // half an hour back
		time.Date(2026, 10, 3, 15, 30, 0, 0, time.UTC).In(lordHowe), // half an hour on
		time.Date(1986, 1, 1, 0, 0, 0, 0, kathmandu),                // +05:30 to +05:45
		time.Date(2026, 6, 1, 0, 0, 0, 0, odd),
		time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(1960, 1, 1, 0, 0, 0, 0, ny),
		time.Date(1883, 11, 18, 17, 0, 0, 0, time.UTC).In(ny), // local mean time -4:56:02 to EST, inside a window
		time.Date(9999, 12, 31, 23, 50, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.Local),
	}
	r := rand.New(rand.NewPCG(1, 2))
	var times []time.Time
	for _, c := range centres {
		for d := -45 * time.Minute; d <= 45*time.Minute; d += 7*time.Second + 1234567 {
			times = append(times, c.Add(d))
		}
		for range 200 { // back and forth
			times = append(times, c.Add(time.Duration(r.Int64N(int64(3*time.Hour)))-90*time.Minute))
		}
	}
	return times
}

// TestClockSweep: the encoder writes every time as time.Format writes
// TimeLayout, across changes of offset and days, in any order.
func TestClockSweep(t *testing.T) {
	var e logfile.Encoder
	for i, ts := range zoneSweep(t) {
		e.Reset()
		e.Time(ts)
		if got, want := string(e.Bytes()), ts.Format(logfile.TimeLayout); got != want {
			t.Fatalf("time %d (%v): %q, want %q", i, ts, got, want)
		}
	}
}

// TestWindowCache: the spool's cache of the last window returns exactly
// what WindowStart returns (the same time.Time: it is part of a map key),
// across changes of offset, in any order.
func TestWindowCache(t *testing.T) {
	of := logfile.WindowCacheOf()
	for i, ts := range zoneSweep(t) {
		if got, want := of(ts), logfile.WindowStart(ts); got != want {
			t.Fatalf("time %d (%v): window %v, want %v", i, ts, got, want)
		}
	}
}
