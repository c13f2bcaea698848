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
func (c *Client) retry(ctx context.Context, what string, fn func() error) error {
	var err error
	for attempt := 0; attempt < c.cfg.Retries; attempt++ {
		if err = fn(); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var se *StatusError
		if errors.As(err, &se) && !se.Retryable() {
			return err
		}
		c.stats.Retries.Add(1)
		wait := backoff.Wait(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
		if errors.As(err, &se) && (se.Status == http.StatusUnprocessableEntity || se.Status == http.StatusRequestedRangeNotSatisfiable) {
			wait = 0 // a bad frame or a moved offset: resend at once from where the server is
		}
		c.log.Warn("transfer failed; retrying", "what", what, "attempt", attempt+1, "err", err, "retry_in", wait.Round(time.Millisecond))
		if err := backoff.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", c.cfg.Retries, err)
}

// StatusError is an error response of the server.
type StatusError struct {
	Status int
	Body   ErrorBody
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("server: %d %s: %s", e.Status, http.StatusText(e.Status), e.Body.Error)
}

// Retryable reports whether trying again may succeed: the server is busy,
// full, or the transfer went wrong on the way; not a request it refuses.
func (e *StatusError) Retryable() bool {
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusRequestedRangeNotSatisfiable,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests:
		return true
	}
	return e.Status >= 500
}
