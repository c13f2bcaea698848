package record

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
)

// keyHashes are the hashes the indexes are tested with: their own, and
// one that gives every key the same hash, so that rows are told apart by
// their keys alone.
var keyHashes = []struct {
	name string
	keep uint32
}{{"seeded hash", ^uint32(0)}, {"one hash for all", 0}}

// setKeyHash makes the recorder's indexes keep bits keep of each hash.
func setKeyHash(r *Recorder, keep uint32) {
	r.reduce.held.hash.keep = keep
	r.sums.hash.keep = keep
}

// TestKeysApart: folded Q rows and F and T sums are kept apart by their
// whole keys, whatever their hashes: an IPv4 client and the same address
// mapped into IPv6 (one text in the rows: the rows are two), two apps of
// one client, two query types of one name.
func TestKeysApart(t *testing.T) {
	ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.Local)
	clients := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::ffff:10.0.0.1"),
		netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("2001:db8::1")}
	sv := netip.MustParseAddr("10.9.9.9")
	for _, hash := range keyHashes {
		t.Run(hash.name, func(t *testing.T) {
			r, sp, root := newRecorder(t, nil)
			setKeyHash(r, hash.keep)
			for i, c := range clients {
				cl := netip.AddrPortFrom(c, 5000)
				for n, port := range []uint16{53, 80, 53} { // apps by port: DNS, other
					at := ts.Add(time.Duration(10*n+i) * time.Second)
					r.Session(&audit.Session{Proto: audit.UDP, Client: cl, Server: netip.AddrPortFrom(sv, port), Start: at, End: at.Add(time.Second),
						ClientBytes: uint64(100 * (i + 1)), ServerBytes: 7, ClientPackets: 1, ServerPackets: 1})
					for _, qtype := range []uint16{1, 28} {
						r.DNS(&audit.DNSQuery{Time: at, Client: cl, Server: netip.AddrPortFrom(sv, 53), Transport: audit.UDP, Name: "a.example", QType: qtype})
					}
				}
			}
			r.Close()
			if err := sp.Close(); err != nil {
				t.Fatal(err)
			}
			var wantF, wantT, wantQ []string
			for i, c := range clients {
				ip := c.Unmap().String()
				up := 100 * (i + 1)
				wantF = append(wantF, fmt.Sprintf("%s DNS %d 14 4 2", ip, 2*up), fmt.Sprintf("%s other %d 7 2 1", ip, up))
				wantT = append(wantT, fmt.Sprintf("%s %s %s 1", ip, stamp(ts, i), stamp(ts, 20+i+1)))
				for _, qtype := range []string{"A", "AAAA"} {
					wantQ = append(wantQ, fmt.Sprintf("%s %s 3 %s", ip, qtype, stamp(ts, 20+i)))
				}
			}
			check := func(letter byte, want []string, cols ...string) {
				t.Helper()
				var got []string
				for _, row := range rows(t, root, letter) {
					s := row[cols[0]]
					for _, c := range cols[1:] {
						s += " " + row[c]
					}
					got = append(got, s)
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%c rows:\n%q\nwant\n%q", letter, got, want)
				}
			}
			check('F', wantF, "ip", "app", "bytes_up", "bytes_down", "packets", "sessions")
			check('T', wantT, "ip", "first_seen", "last_seen", "active_minutes")
			check('Q', wantQ, "src_ip", "qtype", "repeat_count", "last_ts")
		})
	}
}

// stamp is the text of ts and s seconds in the rows.
func stamp(ts time.Time, s int) string {
	return ts.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05.000000")
}
