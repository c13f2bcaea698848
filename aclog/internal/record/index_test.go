package record

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestIndex: adds, finds and removes against a map, with hashes of every
// width down to one for all keys (every probe runs through collisions),
// across growth, removal at every place in a run of full slots (the wrap
// at the table's end included) and reset.
func TestIndex(t *testing.T) {
	for _, c := range []struct {
		name      string
		keep, set uint32 // bits of the hash kept, bits set
		keys      int
	}{
		{"full hashes", ^uint32(0), 0, 5000},
		{"8 hashes", 7, 0, 2000},
		{"one hash", 0, 0, 300},
		{"from the first table's last slot", ^uint32(0), minSlots - 1, 1000}, // runs wrap
	} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(c.keys)))
			var x index
			keys := []uint64{}         // row -> key
			live := map[uint64]int32{} // key -> row
			hash := func(k uint64) uint32 {
				return uint32(k*0x9e3779b97f4a7c15>>32)&c.keep | c.set
			}
			find := func(k uint64) (int32, bool) {
				return x.find(hash(k), func(row int32) bool { return keys[row] == k })
			}
			check := func(when string) {
				t.Helper()
				if x.n != len(live) {
					t.Fatalf("%s: %d rows indexed, want %d", when, x.n, len(live))
				}
				for k, row := range live {
					if got, ok := find(k); !ok || got != row {
						t.Fatalf("%s: key %d: row %d %v, want %d", when, k, got, ok, row)
					}
				}
			}
			for round := range 3 {
				for i := 0; i < c.keys; i++ {
					k := rng.Uint64()
					if _, ok := find(k); ok {
						t.Fatalf("key %d found before it was added", k)
					}
					row := int32(len(keys))
					keys = append(keys, k)
					x.add(hash(k), row)
					live[k] = row
					if i%3 == 2 { // remove one at random
						for k, row := range live {
							x.remove(hash(k), row)
							delete(live, k)
							if _, ok := find(k); ok {
								t.Fatalf("key %d found after its removal", k)
							}
							break
						}
					}
				}
				check("after adding")
				if round == 1 {
					slots := len(x.slots)
					x.reset()
					clear(live)
					if len(x.slots) != slots {
						t.Errorf("reset dropped the table: %d slots, had %d", len(x.slots), slots)
					}
					check("after reset")
				}
			}
			for k, row := range live {
				x.remove(hash(k), row)
				delete(live, k)
			}
			check("after removing all")
			for _, s := range x.slots {
				if s != (slot{}) {
					t.Fatalf("slot %+v left after every row was removed", s)
				}
			}
		})
	}
}

// TestKeyHash: the hash covers every part of an address that == compares
// but the zone, and the app's number; keep cuts it to its bits.
func TestKeyHash(t *testing.T) {
	k := newKeyHash()
	v4, v4in6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::ffff:10.0.0.1")
	if k.addr(v4, 0) == k.addr(v4in6, 0) || k.addr(v4, 0) == k.addr(v4, 1) {
		t.Error("10.0.0.1 and ::ffff:10.0.0.1, or apps 0 and 1, hash alike") // 1 in 2^32 by chance
	}
	if k.addr(v4, 7) != k.addr(netip.AddrFrom4([4]byte{10, 0, 0, 1}), 7) {
		t.Error("one address, two hashes")
	}
	k.keep = 3
	if h := k.addr(v4, 9); h > 3 {
		t.Errorf("hash %#x kept more than 2 bits", h)
	}
}
