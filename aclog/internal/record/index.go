package record

import (
	"hash/maphash"
	"net/netip"
)

// index finds rows, numbered from 0 and kept by their owner, by a hash of
// their keys: a flat table of slots (open addressing, linear probing),
// each the row's number beside 32 bits of its key's hash. Keys stay with
// the rows: find asks its caller whether a row has the key, so two keys
// of the same hash are told apart there. Go maps keyed by the rows' keys
// cost an eighth of aclog's CPU on short sessions: keys holding a
// netip.Addr (a pointer inside) or strings take the generic hash, a map of
// 200k keys grows by splitting tables in fresh memory, and one row's
// entry is several times the 8 bytes of a slot here. Reset keeps the
// slots' memory.
type index struct {
	slots []slot // a power of two of them, or none
	n     int    // rows indexed
}

type slot struct {
	hash uint32
	row  int32 // the row's number + 1; 0: empty
}

// minSlots is the size of an index's first table.
const minSlots = 64

// find returns the row whose key hashes to h and for which has is true.
func (x *index) find(h uint32, has func(row int32) bool) (int32, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := uint32(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s.row == 0 {
			return 0, false
		}
		if s.hash == h && has(s.row-1) {
			return s.row - 1, true
		}
	}
}

// add indexes row, whose key hashes to h; no row of the same key may be
// indexed.
func (x *index) add(h uint32, row int32) {
	if (x.n+1)*4 > len(x.slots)*3 { // at most 3/4 full: probes stay short
		x.grow()
	}
	x.put(slot{hash: h, row: row + 1})
	x.n++
}

// put places s in the first empty slot from its own.
func (x *index) put(s slot) {
	mask := uint32(len(x.slots) - 1)
	i := s.hash & mask
	for x.slots[i].row != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = s
}

// grow doubles the table, placing each row anew by its hash.
func (x *index) grow() {
	old := x.slots
	x.slots = make([]slot, max(2*len(old), minSlots))
	// Written before it is probed: a read of a fresh page maps the
	// kernel's zero page, and the first write then faults again and, with
	// another thread of the process running, flushes the TLB of every
	// core. Written at once, each page faults once, cheaply.
	clear(x.slots)
	for _, s := range old {
		if s.row != 0 {
			x.put(s)
		}
	}
}

// remove forgets row, whose key hashes to h. The rows after it in its
// run of full slots move back to fill the gap when their own slot comes
// before it, so that no probe for them stops early (no tombstones to
// wear the table out).
func (x *index) remove(h uint32, row int32) {
	if len(x.slots) == 0 {
		return
	}
	mask := uint32(len(x.slots) - 1)
	i := h & mask
	for x.slots[i].row != row+1 {
		if x.slots[i].row == 0 {
			return // not indexed
		}
		i = (i + 1) & mask
	}
	x.n--
	for j := (i + 1) & mask; x.slots[j].row != 0; j = (j + 1) & mask {
		// The slot at j stays when its own slot is in (i, j], cyclically.
		home := x.slots[j].hash & mask
		if i <= j && i < home && home <= j || i > j && (i < home || home <= j) {
			continue
		}
		x.slots[i] = x.slots[j]
		i = j
	}
	x.slots[i] = slot{}
}

// reset forgets every row, keeping the table.
func (x *index) reset() {
	clear(x.slots)
	x.n = 0
}

// keyHash hashes the indexes' keys with a seed of its own (a capture
// cannot choose addresses that all land in one run of slots). Tests set
// keep to a few bits to force keys to share hashes.
type keyHash struct {
	seed maphash.Seed
	keep uint32 // the bits of a hash kept; all but in tests
}

func newKeyHash() keyHash { return keyHash{seed: maphash.MakeSeed(), keep: ^uint32(0)} }

// bytes hashes a key's bytes.
func (k keyHash) bytes(b []byte) uint32 { return uint32(maphash.Bytes(k.seed, b)) & k.keep }

// addr hashes an address and a number (an app's): every part of the
// address that == compares but the zone, which packets' addresses have
// none of.
func (k keyHash) addr(a netip.Addr, n uint32) uint32 {
	var b [21]byte
	a16 := a.As16()
	copy(b[:], a16[:])
	b[16] = byte(a.BitLen())
	b[17], b[18], b[19], b[20] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	return k.bytes(b[:])
}
