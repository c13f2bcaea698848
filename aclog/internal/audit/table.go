package audit

import (
	"bytes"
	"cmp"
	"hash/maphash"
	"net/netip"
)

// flowKey names a session whichever way its packets go: endpoint a is the
// smaller of the two (address, then port). It is 38 bytes without
// pointers (netip.AddrPort carries a zone handle, so a key of two was 72
// bytes the runtime hashed and compared field by field): one hash over
// one block of memory, one comparison.
type flowKey struct {
	a, b   [16]byte // addresses, IPv4 as IPv4-mapped IPv6
	pa, pb uint16   // ports
	proto  Proto
	v6     bool // the addresses are IPv6 (IPv4-mapped addresses included)
}

func makeKey(proto Proto, src, dst netip.AddrPort) (k flowKey, srcIsA bool) {
	srcIsA = src.Compare(dst) <= 0
	if !srcIsA {
		src, dst = dst, src
	}
	return flowKey{a: src.Addr().As16(), b: dst.Addr().As16(), pa: src.Port(), pb: dst.Port(), proto: proto, v6: src.Addr().Is6()}, srcIsA
}

func (k *flowKey) endpointA() netip.AddrPort { return netip.AddrPortFrom(k.addr(k.a), k.pa) }
func (k *flowKey) endpointB() netip.AddrPort { return netip.AddrPortFrom(k.addr(k.b), k.pb) }

func (k *flowKey) addr(a [16]byte) netip.Addr {
	if k.v6 {
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4([4]byte(a[12:]))
}

// equal is k == *o, field by field: the compiler compares each address
// with two 8-byte loads inline, where == on the whole 38-byte key is a
// call to the runtime's memequal, on every packet's lookup.
func (k *flowKey) equal(o *flowKey) bool {
	return k.a == o.a && k.b == o.b && k.pa == o.pa && k.pb == o.pb && k.proto == o.proto && k.v6 == o.v6
}

// compare orders keys as netip.AddrPort.Compare orders their endpoints
// (IPv4 before IPv6, then address, then port), then by protocol: the order
// sessions still open at the end of a capture are emitted in.
func (k *flowKey) compare(o *flowKey) int {
	if k.v6 != o.v6 {
		if !k.v6 {
			return -1
		}
		return 1
	}
	if c := bytes.Compare(k.a[:], o.a[:]); c != 0 {
		return c
	}
	if c := cmp.Compare(k.pa, o.pa); c != 0 {
		return c
	}
	if c := bytes.Compare(k.b[:], o.b[:]); c != 0 {
		return c
	}
	if c := cmp.Compare(k.pb, o.pb); c != 0 {
		return c
	}
	return cmp.Compare(k.proto, o.proto)
}

// sessionTable holds the open sessions by key: open addressing with linear
// probing over a power-of-two array of (hash, session) slots, deletion by
// backward shift (no tombstones). A lookup reads one 16-byte slot, most
// often in the cache line it hashes to, and compares a key only on a full
// hash match; Go's map did the same work through 80-byte slots and
// rehashing when it grew and shrank with the sessions of short-lived
// traffic. The hash is seeded per engine, so no capture can be crafted to
// collide.
type sessionTable struct {
	slots []tableSlot
	n     int
	seed  maphash.Seed
}

type tableSlot struct {
	hash uint64
	s    *session // nil: empty
}

// minTableSlots is the table's initial (and smallest) size.
const minTableSlots = 1024

func (t *sessionTable) init() {
	t.slots = make([]tableSlot, minTableSlots)
	t.seed = maphash.MakeSeed()
}

func (t *sessionTable) len() int { return t.n }

func (t *sessionTable) hash(k *flowKey) uint64 { return maphash.Comparable(t.seed, *k) }

// get returns the session of k, nil if there is none; h is t.hash(k).
func (t *sessionTable) get(k *flowKey, h uint64) *session {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.s == nil {
			return nil
		}
		if sl.hash == h && sl.s.key.equal(k) {
			return sl.s
		}
	}
}

// insert adds s, whose key is not in the table, under hash h.
func (t *sessionTable) insert(s *session, h uint64) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	t.place(s, h)
	t.n++
}

func (t *sessionTable) place(s *session, h uint64) {
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i].s != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = tableSlot{hash: h, s: s}
}

func (t *sessionTable) grow() {
	old := t.slots
	t.slots = make([]tableSlot, 2*len(old))
	// Written before it is probed (or scanned by the garbage collector):
	// a read of a fresh page maps the kernel's zero page, and the first
	// write then faults again and, with another thread of the process
	// running, flushes the TLB of every core. Written at once, each page
	// faults once, cheaply.
	clear(t.slots)
	for _, sl := range old {
		if sl.s != nil {
			t.place(sl.s, sl.hash)
		}
	}
}

// remove takes s, stored under hash h, out of the table.
func (t *sessionTable) remove(s *session, h uint64) {
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i].s != s {
		if t.slots[i].s == nil {
			return // not in the table
		}
		i = (i + 1) & mask
	}
	t.n--
	// Shift back the slots after i that probing would no longer reach
	// across the hole.
	for j := (i + 1) & mask; t.slots[j].s != nil; j = (j + 1) & mask {
		home := t.slots[j].hash & mask
		// The slot at j may move to i unless its home lies cyclically in
		// (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = tableSlot{}
}

// all returns every session in the table.
func (t *sessionTable) all() []*session {
	out := make([]*session, 0, t.n)
	for _, sl := range t.slots {
		if sl.s != nil {
			out = append(out, sl.s)
		}
	}
	return out
}
