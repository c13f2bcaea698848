package search

import (
	"net/netip"
	"testing"
)

func TestPrefixRange(t *testing.T) {
	for _, c := range []struct{ prefix, lo, hi string }{
		{"10.1.2.0/24", "10.1.2.0", "10.1.2.255"},
		{"10.1.2.3/32", "10.1.2.3", "10.1.2.3"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"192.168.100.77/25", "192.168.100.0", "192.168.100.127"},
		{"fe80::1/64", "fe80::", "fe80::ffff:ffff:ffff:ffff"},
	} {
		lo, hi := prefixRange(netip.MustParsePrefix(c.prefix))
		if lo.String() != c.lo || hi.String() != c.hi {
			t.Errorf("%s: [%s, %s], want [%s, %s]", c.prefix, lo, hi, c.lo, c.hi)
		}
	}
}

func TestLikeEscape(t *testing.T) {
	for in, want := range map[string]string{`50%_off`: `50\%\_off`, `a\b`: `a\\b`, `plain`: `plain`} {
		if got := likeEscape(in); got != want {
			t.Errorf("likeEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
