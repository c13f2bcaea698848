package record

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestSortedRows: the rows come out in the order netip.Addr.Compare and
// the rows' own comparison give together (as when the rows themselves
// were sorted), over IPv4 addresses, the same mapped into IPv6, IPv6
// addresses with and without zones, random IPv4 and IPv6 addresses
// differing in either half, and several apps per address.
func TestSortedRows(t *testing.T) {
	addrs := []netip.Addr{}
	for _, s := range []string{"10.0.0.1", "::ffff:10.0.0.1", "10.0.0.2", "9.255.255.255", "255.0.0.0", "0.0.0.0",
		"::", "::1", "fe80::1", "fe80::1%eth0", "fe80::1%eth1", "2001:db8::1", "ffff::"} {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	addrs = append(addrs, netip.Addr{}) // the zero Addr sorts first
	byAddrApp := func(x, y *flowSums) int {
		if c := x.ip.Compare(y.ip); c != 0 {
			return c
		}
		return int(x.app) - int(y.app)
	}
	for _, n := range []int{0, 1, 2, 50, 3000, 20000} {
		rng := rand.New(rand.NewPCG(7, uint64(n)))
		var tb flowTable
		seen := map[flowKey]bool{}
		var want []flowSums
		for len(want) < n {
			k := flowKey{ip: addrs[rng.IntN(len(addrs))], app: rng.Uint32N(8)}
			switch rng.IntN(8) { // addresses beyond the list
			case 0, 1:
				k.ip = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), 1, byte(rng.Uint32())})
			case 2:
				var b [16]byte
				binary.BigEndian.PutUint64(b[:8], rng.Uint64()&0xff00_0000_0000_00ff)
				binary.BigEndian.PutUint64(b[8:], rng.Uint64()&0xff00_0000_ff00_00ff)
				k.ip = netip.AddrFrom16(b)
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			f := flowSums{flowKey: k, up: uint64(len(want))}
			tb.rows.add(f)
			want = append(want, f)
		}
		slices.SortFunc(want, func(x, y flowSums) int { return byAddrApp(&x, &y) })
		refs := sortedRows(nil, &tb, func(f *flowSums) netip.Addr { return f.ip }, byAddrApp)
		if len(refs) != len(want) {
			t.Fatalf("%d rows: %d refs", len(want), len(refs))
		}
		for i, ref := range refs {
			if got := *tb.rows.at(ref.row); got != want[i] {
				t.Fatalf("%d rows: row %d is %v %d, want %v %d", len(want), i, got.ip, got.app, want[i].ip, want[i].app)
			}
		}
	}
}
