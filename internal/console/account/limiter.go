package account

import (
	"sync"
	"time"
)

// Limiter slows password guessing: after MaxFailures failed logins for
// the same user name from the same client address, or 4×MaxFailures from
// one address for any names, further attempts from there are refused
// without checking the password until Lockout has passed since the last
// failure. Counting per (address, name) keeps a guesser elsewhere from
// locking the real user out; the right user from another address gets in
// at once, from the same address after Lockout. Memory stays bounded:
// at most MaxEntries keys are kept, the oldest dropped first.
type Limiter struct {
	MaxFailures int
	Lockout     time.Duration
	MaxEntries  int

	mu      sync.Mutex
	entries map[string]*failures
	now     func() time.Time
}

type failures struct {
	n    int
	last time.Time
}

// NewLimiter returns a Limiter.
func NewLimiter(maxFailures int, lockout time.Duration) *Limiter {
	return &Limiter{MaxFailures: maxFailures, Lockout: lockout, MaxEntries: 100000,
		entries: make(map[string]*failures), now: time.Now}
}

func keys(addr, name string) [2]string {
	return [2]string{"a\x00" + addr, "u\x00" + addr + "\x00" + name}
}

// Allow reports whether a login attempt may be checked now, and if not,
// how long to wait.
func (l *Limiter) Allow(addr, name string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := keys(addr, name)
	for i, key := range k {
		limit := l.MaxFailures
		if i == 0 {
			limit *= 4
		}
		f := l.entries[key]
		if f == nil {
			continue
		}
		if now.Sub(f.last) >= l.Lockout {
			delete(l.entries, key)
			continue
		}
		if f.n >= limit {
			return false, l.Lockout - now.Sub(f.last)
		}
	}
	return true, 0
}

// Fail counts a failed attempt.
func (l *Limiter) Fail(addr, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.entries) >= l.MaxEntries {
		l.prune(now)
	}
	for _, key := range keys(addr, name) {
		f := l.entries[key]
		if f == nil {
			f = &failures{}
			l.entries[key] = f
		}
		f.n++
		f.last = now
	}
}

// Succeed forgets the failures of that name from that address.
func (l *Limiter) Succeed(addr, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, keys(addr, name)[1])
}

// prune drops expired entries, then the oldest half if still full.
func (l *Limiter) prune(now time.Time) {
	var oldest time.Time
	for k, f := range l.entries {
		if now.Sub(f.last) >= l.Lockout {
			delete(l.entries, k)
		} else if oldest.IsZero() || f.last.Before(oldest) {
			oldest = f.last
		}
	}
	if len(l.entries) < l.MaxEntries {
		return
	}
	mid := oldest.Add(now.Sub(oldest) / 2)
	for k, f := range l.entries {
		if f.last.Before(mid) || len(l.entries) >= l.MaxEntries {
			delete(l.entries, k)
		}
	}
}
