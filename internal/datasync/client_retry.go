package datasync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/acstore/acstore/internal/backoff"
)

// retry runs fn until it succeeds, fails for good, or Retries attempts
// were made, waiting with backoff and jitter in between.
//
// A busy server (503 with Retry-After) is waited for as long as it asks,
// and such answers do not use up the attempts (up to maxBusy of them): a
// head office capping its uploads is working as meant.
func (c *Client) retry(ctx context.Context, what string, fn func() error) error {
	var err error
	busy := 0
	for attempt := 0; attempt < c.cfg.Retries; attempt++ {
		if err = fn(); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.noteError(err)
		if pe := permanent(err); pe != nil {
			return pe
		}
		var se *StatusError
		if errors.As(err, &se) && !se.Retryable() {
			return err
		}
		wait := backoff.Wait(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
		switch {
		case se != nil && se.RetryAfter > 0 && busy < maxBusy:
			busy++
			attempt--
			c.stats.Busy.Add(1)
			// Jitter spreads the branches the server turned away at once.
			wait = se.RetryAfter + backoff.Wait(0, 0, se.RetryAfter/2+time.Millisecond)
			if err := backoff.Sleep(ctx, wait); err != nil {
				return err
			}
			continue
		case se != nil && (se.Status == http.StatusUnprocessableEntity || se.Status == http.StatusRequestedRangeNotSatisfiable):
			wait = 0 // a bad frame or a moved offset: resend at once from where the server is
		}
		c.stats.Retries.Add(1)
		c.log.Warn("transfer failed; retrying", "what", what, "attempt", attempt+1, "err", err, "retry_in", wait.Round(time.Millisecond))
		if err := backoff.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", c.cfg.Retries, err)
}

// maxBusy is how many busy answers one request waits through.
const maxBusy = 1000
