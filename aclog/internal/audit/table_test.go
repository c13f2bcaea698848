package audit

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"unsafe"
)

// TestSessionTable runs random inserts and removals against a map: every
// lookup must agree, through growth and the backward shifts of removal.
func TestSessionTable(t *testing.T) {
	for _, keys := range []int{10, 700, 5000} {
		var tab sessionTable
		tab.init()
		ref := map[flowKey]*session{}
		rng := rand.New(rand.NewPCG(1, uint64(keys)))
		key := func() flowKey {
			i := rng.IntN(keys)
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(i%7))
			dst := netip.AddrPortFrom(netip.MustParseAddr("2001:db8::1"), 80)
			if i%3 == 0 {
				dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 1}), 80)
			}
			k, _ := makeKey(TCP, src, dst)
			return k
		}
		for range 200_000 {
			k := key()
			h := tab.hash(&k)
			got := tab.get(&k, h)
			if got != ref[k] {
				t.Fatalf("%d keys: get %+v = %p, want %p", keys, k, got, ref[k])
			}
			if got == nil {
				s := &session{key: k}
				tab.insert(s, h)
				ref[k] = s
			} else if rng.IntN(2) == 0 {
				tab.remove(got, h)
				delete(ref, k)
			}
			if tab.len() != len(ref) {
				t.Fatalf("%d keys: table holds %d, want %d", keys, tab.len(), len(ref))
			}
		}
		if all := tab.all(); len(all) != len(ref) || slices.ContainsFunc(all, func(s *session) bool { return ref[s.key] != s }) {
			t.Fatalf("%d keys: all() does not match", keys)
		}
	}
}

// TestKeyOrder: keys order as their endpoints do (netip.AddrPort.Compare),
// the order sessions open at the end of a capture are emitted in.
func TestKeyOrder(t *testing.T) {
	eps := []string{"10.0.0.1:80", "10.0.0.1:443", "10.0.0.2:1", "192.0.2.1:53", "[::1]:80", "[2001:db8::1]:80", "[::ffff:10.0.0.1]:80"}
	for _, a := range eps {
		for _, b := range eps {
			x, y := netip.MustParseAddrPort(a), netip.MustParseAddrPort(b)
			kx, _ := makeKey(UDP, x, x)
			ky, _ := makeKey(UDP, y, y)
			if got, want := kx.compare(&ky), x.Compare(y); got != want {
				t.Errorf("compare(%v, %v) = %d, want %d", x, y, got, want)
			}
		}
	}
}

// TestSessionSize: a session fits the runtime's 176-byte size class, and
// every application the stream detection names has an appName.
func TestSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(session{}); n > 176 {
		t.Errorf("a session is %d bytes, over the 176-byte size class", n)
	}
	for _, k := range []streamKind{kindHTTP, kindTLS, kindDNS, kindSMTP, kindPOP3, kindIMAP, kindFTP, kindIRC, kindXMPP, kindTelnet} {
		e := &Engine{}
		s := &tcpStream{e: e, sess: &session{}}
		s.setKind(k, false)
		if s.sess.ev.App == appNone {
			t.Errorf("stream kind %d: no appName", k)
		}
	}
}
