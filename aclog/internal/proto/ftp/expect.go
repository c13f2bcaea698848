package ftp

import (
	"net/netip"
	"time"
)

// Bounds of Expectations.
const (
	// MaxExpected bounds the announced data connections waiting to be
	// seen.
	MaxExpected = 4096
	// ExpectTimeout: a data connection not opened this long after it was
	// announced is forgotten.
	ExpectTimeout = 2 * time.Minute
)

// Expectations are the data connections announced on the control
// connections of a capture (PORT, EPRT, PASV, EPSV), by the endpoint that
// will accept them, until they are opened or time out. The zero value is
// ready to use.
type Expectations struct {
	m     map[netip.AddrPort]*expectation
	check time.Time // no expectation expires before
}

type expectation struct {
	ctl *Control
	at  time.Time
}

// Len is the number of data connections expected.
func (x *Expectations) Len() int { return len(x.m) }

// Add records a data connection announced at now on the control connection
// ctl, whose server is server. It reports false when the table is full and
// the announcement was dropped.
func (x *Expectations) Add(ctl *Control, e Expect, server netip.AddrPort, now time.Time) bool {
	if len(x.m) >= MaxExpected {
		return false
	}
	if x.m == nil {
		x.m = make(map[netip.AddrPort]*expectation)
	}
	ap := e.Addr
	if !ap.Addr().IsValid() {
		// EPSV names only a port: the server's address.
		ap = netip.AddrPortFrom(server.Addr(), ap.Port())
	}
	x.m[ap] = &expectation{ctl: ctl, at: now}
	if x.check.IsZero() {
		x.check = now.Add(ExpectTimeout)
	}
	if e.Passive && ap.Addr() != server.Addr() {
		// A NATed server announces its private address: the client
		// connects to the public one.
		x.m[netip.AddrPortFrom(server.Addr(), ap.Port())] = &expectation{ctl: ctl, at: now}
	}
	return true
}

// Match reports whether a new connection between client and server is an
// expected data connection, and takes it from the table: ctl is its control
// connection, and swapped says client is the endpoint that was announced,
// so the data connection's server is client.
func (x *Expectations) Match(client, server netip.AddrPort) (ctl *Control, swapped bool) {
	if len(x.m) == 0 {
		return nil, false
	}
	for _, ap := range []netip.AddrPort{server, client} {
		e := x.m[ap]
		if e == nil {
			continue
		}
		delete(x.m, ap)
		return e.ctl, ap == client
	}
	return nil, false
}

// Expire forgets the data connections announced more than ExpectTimeout
// before now.
func (x *Expectations) Expire(now time.Time) {
	// At most MaxExpected, looked at only once the oldest could expire.
	if len(x.m) == 0 || now.Before(x.check) {
		return
	}
	x.check = time.Time{}
	for ap, e := range x.m {
		if now.Sub(e.at) > ExpectTimeout {
			delete(x.m, ap)
		} else if at := e.at.Add(ExpectTimeout); x.check.IsZero() || at.Before(x.check) {
			x.check = at
		}
	}
}

// Reset forgets every expectation, for a capture whose clock went back.
func (x *Expectations) Reset() {
	clear(x.m)
	x.check = time.Time{}
}
