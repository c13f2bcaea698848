// Package backoff computes the waits between retries: doubling from a
// minimum to a maximum, with jitter, so that the hundreds of appliances
// that lost the same server do not all come back in the same second.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Wait returns the wait before retry number attempt (0-based): min doubled
// attempt times, at most max, of which a random half is taken off ("equal
// jitter").
func Wait(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d or until ctx ends, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Loop calls pass every interval until ctx ends. After a failed pass the
// next one comes after a backoff (1 s doubling to max) instead, and failed
// is told the error and the wait. It returns when ctx ends.
func Loop(ctx context.Context, interval, max time.Duration, pass func(context.Context) error, failed func(err error, wait time.Duration)) {
	failures := 0
	for {
		wait := interval
		if err := pass(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = Wait(failures, time.Second, max)
			failures++
			failed(err, wait)
		} else {
			failures = 0
		}
		if Sleep(ctx, wait) != nil {
			return
		}
	}
}
