package datasync

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/acstore/acstore/internal/backoff"
)

// Limiter is a token bucket of bytes per second, shared by a client's
// uploads; nil means unlimited.
type Limiter struct {
	rate   float64
	burst  float64
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter of bytesPerSec; 0 or less is unlimited (nil).
func NewLimiter(bytesPerSec int64) *Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	// A burst of one frame, or a tenth of a second at the rate: small
	// enough that a thin link is not flooded, big enough not to stall.
	burst := max(float64(bytesPerSec)/10, FrameSize+frameHeader)
	return &Limiter{rate: float64(bytesPerSec), burst: burst, tokens: burst, last: time.Now()}
}

// Wait blocks until n bytes may be sent.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	var d time.Duration
	if l.tokens < 0 {
		d = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if d == 0 {
		return nil
	}
	return backoff.Sleep(ctx, d)
}

// idleConn fails a read or write that makes no progress for timeout: a VPN
// that drops packets silently would otherwise hang the client until the
// kernel's TCP timeout, many minutes later.
type idleConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}
