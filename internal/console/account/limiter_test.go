package account

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(3, time.Minute)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("10.0.0.1", "alice"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
		l.Fail("10.0.0.1", "alice")
	}
	for _, c := range []struct {
		addr, name string
		ok         bool
	}{
		{"10.0.0.1", "alice", false}, // locked: 3 failures
		{"10.0.0.2", "alice", true},  // another address
		{"10.0.0.1", "bob", true},    // another name, address below 4×3
	} {
		if ok, _ := l.Allow(c.addr, c.name); ok != c.ok {
			t.Errorf("Allow(%s, %s) = %v, want %v", c.addr, c.name, ok, c.ok)
		}
	}
	// Guessing many names from one address locks the address.
	for i := 0; i < 12; i++ {
		l.Fail("10.0.0.3", string(rune('a'+i)))
	}
	if ok, _ := l.Allow("10.0.0.3", "zed"); ok {
		t.Error("an address that failed 12 times with any names is not locked")
	}
	now = now.Add(time.Minute)
	if ok, _ := l.Allow("10.0.0.1", "alice"); !ok {
		t.Error("still locked after the lockout")
	}
}

func TestLimiterBounded(t *testing.T) {
	l := NewLimiter(3, time.Hour)
	l.MaxEntries = 1000
	for i := 0; i < 100000; i++ {
		l.Fail("10.0.0.1", string(rune(i)))
	}
	if n := len(l.entries); n > 1000 {
		t.Errorf("%d entries kept, want ≤ 1000", n)
	}
}
