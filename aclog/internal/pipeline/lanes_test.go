package pipeline

import (
	"net/netip"
	"testing"
)

// TestClientLaneSpread: the clients of a /14 (IPv4) and of a /48 (IPv6)
// are spread evenly over the lanes, and a client always has the same one.
func TestClientLaneSpread(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first netip.Addr
		step  func(netip.Addr, int) netip.Addr
	}{
		{"IPv4 /14", netip.MustParseAddr("10.0.0.1"), func(a netip.Addr, i int) netip.Addr {
			b := a.As4()
			v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) + uint32(i*37%(1<<18))
			return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		}},
		{"IPv6 /48", netip.MustParseAddr("2001:db8:1::1"), func(a netip.Addr, i int) netip.Addr {
			b := a.As16()
			b[6], b[7], b[15] = byte(i>>8), byte(i), byte(i*7)
			return netip.AddrFrom16(b)
		}},
	} {
		for _, n := range []int{2, 3, 4} {
			counts := make([]int, n)
			const clients = 20000
			for i := range clients {
				a := tc.step(tc.first, i)
				k := clientLane(a, n)
				if k != clientLane(a, n) {
					t.Fatalf("%s: %v changed lanes", tc.name, a)
				}
				counts[k]++
			}
			for k, c := range counts {
				if want := clients / n; c < want*9/10 || c > want*11/10 {
					t.Errorf("%s, %d lanes: lane %d has %d clients of %d, want about %d (all: %v)", tc.name, n, k, c, clients, want, counts)
				}
			}
		}
	}
}
