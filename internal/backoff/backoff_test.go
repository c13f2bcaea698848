package backoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/backoff"
)

func TestWait(t *testing.T) {
	for _, c := range []struct {
		attempt  int
		min, max time.Duration
		lo, hi   time.Duration
	}{
		{0, time.Second, time.Minute, 500 * time.Millisecond, time.Second},
		{3, time.Second, time.Minute, 4 * time.Second, 8 * time.Second},
		{30, time.Second, time.Minute, 30 * time.Second, time.Minute},
	} {
		for i := 0; i < 100; i++ {
			if d := backoff.Wait(c.attempt, c.min, c.max); d < c.lo || d > c.hi {
				t.Fatalf("Wait(%d, %v, %v) = %v, want within [%v, %v]", c.attempt, c.min, c.max, d, c.lo, c.hi)
			}
		}
	}
}

func TestLoop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls, failures := 0, 0
	var waits []time.Duration
	backoff.Loop(ctx, time.Millisecond, time.Minute, func(context.Context) error {
		calls++
		if calls == 3 {
			cancel()
		}
		if calls == 1 {
			return errors.New("down")
		}
		return nil
	}, func(err error, wait time.Duration) { failures++; waits = append(waits, wait) })
	if calls != 3 || failures != 1 || waits[0] < 500*time.Millisecond {
		t.Errorf("calls %d, failures %d, waits %v", calls, failures, waits)
	}
}
