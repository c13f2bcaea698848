package tftp

import (
	"net/netip"
	"slices"
	"time"
)

// Expire ends the transfers quiet since before now-IdleTimeout, or every
// transfer when all is set, in the order of their client endpoints.
func (t *Tracker) Expire(now time.Time, all bool) {
	// Transfers are few (at most MaxTransfers) and their times only move
	// on: the map is looked at only once the oldest could have gone quiet.
	if len(t.flows) == 0 || (!all && now.Before(t.check)) {
		if all {
			// What comes next may run on an earlier clock (a restart).
			t.check = time.Time{}
		}
		return
	}
	var done []netip.AddrPort
	t.check = time.Time{}
	for k, x := range t.flows {
		if all || now.Sub(x.last) > IdleTimeout {
			done = append(done, k)
		} else if at := x.last.Add(IdleTimeout); t.check.IsZero() || at.Before(t.check) {
			t.check = at
		}
	}
	// Deterministic order.
	slices.SortFunc(done, func(a, b netip.AddrPort) int { return a.Compare(b) })
	for _, k := range done {
		x := t.flows[k]
		x.ev.Cut = true
		t.end(k, x)
	}
}
