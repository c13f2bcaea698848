package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	t0       = time.Unix(1_700_000_000, 0)
	resolver = netip.MustParseAddrPort("192.0.2.53:53")
	stub     = netip.MustParseAddrPort("192.0.2.10:40000")
)

// wire builds a DNS message: id, response flag, rcode, questions (names of
// type A) and A answers ("name=1.2.3.4").
func wire(id uint16, response bool, rcode uint8, questions []string, answers ...string) []byte {
	flags := uint16(rcode)
	if response {
		flags |= 0x8000
	}
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(questions)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(answers)))
	b = append(b, 0, 0, 0, 0)
	name := func(n string) {
		for _, l := range strings.Split(n, ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
		b = append(b, 0)
	}
	for _, q := range questions {
		name(q)
		b = append(b, 0, TypeA, 0, 1)
	}
	for _, a := range answers {
		n, ip, _ := strings.Cut(a, "=")
		name(n)
		b = append(b, 0, TypeA, 0, 1, 0, 0, 0, 60, 0, 4)
		b = append(b, netip.MustParseAddr(ip).AsSlice()...)
	}
	return b
}

// msg is one message of a test, at seconds after t0.
type msg struct {
	at      float64
	query   bool // sent by the stub to the resolver
	b       []byte
	wantErr error
}

// line renders an exchange for comparison.
func line(x *Exchange) string {
	var ans []string
	for _, a := range x.Answers {
		ans = append(ans, a.Name+"="+a.Data)
	}
	return fmt.Sprintf("%s %s>%s id=%d %s q=%v r=%v rcode=%d rtt=%v [%s]", x.Time.Sub(t0), x.Client, x.Server,
		x.ID, x.Name, x.HasQuery, x.HasResponse, x.RCode, x.RTT, strings.Join(ans, " "))
}

func TestTracker(t *testing.T) {
	one := []string{"www.example.com"}
	tests := []struct {
		name  string
		msgs  []msg
		until float64 // Expire(t0+until) after the messages, then Expire(all)
		want  []string
	}{
		{"query and response", []msg{
			{0, true, wire(7, false, 0, one), nil},
			{0.25, false, wire(7, true, 0, one, "www.example.com=192.0.2.80"), nil},
		}, 0, []string{"0s 192.0.2.10:40000>192.0.2.53:53 id=7 www.example.com q=true r=true rcode=0 rtt=250ms [www.example.com=192.0.2.80]"}},
		{"two questions, answers copied", []msg{
			{0, true, wire(7, false, 0, []string{"a.example", "b.example"}), nil},
			{1, false, wire(7, true, 3, []string{"a.example", "b.example"}, "a.example=192.0.2.1"), nil},
		}, 0, []string{
			"0s 192.0.2.10:40000>192.0.2.53:53 id=7 a.example q=true r=true rcode=3 rtt=1s [a.example=192.0.2.1]",
			"0s 192.0.2.10:40000>192.0.2.53:53 id=7 b.example q=true r=true rcode=3 rtt=1s [a.example=192.0.2.1]",
		}},
		{"retransmitted query: the first went unanswered", []msg{
			{0, true, wire(7, false, 0, one), nil},
			{1, true, wire(7, false, 0, one), nil},
			{1.5, false, wire(7, true, 0, one), nil},
		}, 0, []string{
			"0s 192.0.2.10:40000>192.0.2.53:53 id=7 www.example.com q=true r=false rcode=0 rtt=0s []",
			"1s 192.0.2.10:40000>192.0.2.53:53 id=7 www.example.com q=true r=true rcode=0 rtt=500ms []",
		}},
		{"response after the timeout: two records", []msg{
			{0, true, wire(7, false, 0, one), nil},
			{31, false, wire(7, true, 0, one), nil},
		}, 0, []string{
			"0s 192.0.2.10:40000>192.0.2.53:53 id=7 www.example.com q=true r=false rcode=0 rtt=0s []",
			"31s 192.0.2.10:40000>192.0.2.53:53 id=7 www.example.com q=false r=true rcode=0 rtt=0s []",
		}},
		{"response without a question: named by its first answer", []msg{
			{2, false, wire(9, true, 0, nil, "printer.local=192.0.2.7"), nil},
		}, 0, []string{"2s 192.0.2.10:40000>192.0.2.53:53 id=9 printer.local q=false r=true rcode=0 rtt=0s [printer.local=192.0.2.7]"}},
		{"query that asks nothing", []msg{
			{0, true, wire(7, false, 0, nil), ErrNoQuestion},
		}, 0, nil},
		{"not DNS", []msg{
			{0, true, []byte("GET / HTTP/1.0\r\n"), ErrMalformed},
			{0, true, []byte{1, 2}, ErrShort},
		}, 0, nil},
		{"unanswered queries expire oldest first", []msg{
			{0, true, wire(2, false, 0, []string{"b.example"}), nil},
			{1, true, wire(1, false, 0, []string{"a.example"}), nil},
			{40, true, wire(3, false, 0, []string{"c.example"}), nil},
		}, 30.5, []string{
			"0s 192.0.2.10:40000>192.0.2.53:53 id=2 b.example q=true r=false rcode=0 rtt=0s []",
			"1s 192.0.2.10:40000>192.0.2.53:53 id=1 a.example q=true r=false rcode=0 rtt=0s []",
			"40s 192.0.2.10:40000>192.0.2.53:53 id=3 c.example q=true r=false rcode=0 rtt=0s []",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tr := NewTracker[string](30*time.Second, func(x *Exchange) { got = append(got, line(x)) })
			for i, m := range tt.msgs {
				src, dst := stub, resolver
				if !m.query {
					src, dst = dst, src
				}
				err := tr.Message("flow", 17, src, dst, m.b, t0.Add(time.Duration(m.at*float64(time.Second))))
				if !errors.Is(err, m.wantErr) || (m.wantErr == nil && err != nil) {
					t.Errorf("message %d: error %v, want %v", i, err, m.wantErr)
				}
			}
			if tt.until > 0 {
				tr.Expire(t0.Add(time.Duration(tt.until*float64(time.Second))), false)
				if len(got) != 1 {
					t.Errorf("%d expired by %vs, want the query of 0s only", len(got), tt.until)
				}
			}
			tr.Expire(time.Time{}, true)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestTrackerBounded: past MaxPending a query is reported at once, without
// its response.
func TestTrackerBounded(t *testing.T) {
	n := 0
	tr := NewTracker[int](30*time.Second, func(*Exchange) { n++ })
	q := wire(1, false, 0, []string{"x.example"})
	for i := range MaxPending + 5 {
		if err := tr.Message(i, 17, stub, resolver, q, t0); err != nil {
			t.Fatal(err)
		}
	}
	if len(tr.m) != MaxPending || n != 5 {
		t.Fatalf("%d waiting, %d reported; want %d and 5", len(tr.m), n, MaxPending)
	}
	tr.Expire(time.Time{}, true)
	if n != MaxPending+5 || len(tr.m) != 0 || tr.head != nil || tr.tail != nil {
		t.Fatalf("after Expire(all): %d reported, %d waiting", n, len(tr.m))
	}
}

// TestTrackerReuse: a query answered costs the Tracker no allocation of
// its own once it has served one (its pending entry and the answers are
// reused): only the query's name and the answers' texts Parse makes (the
// response's names share the query's). What emit is
// given is whole during the call, for every question of a query, though
// the next message reuses it.
func TestTrackerReuse(t *testing.T) {
	var got []string
	tr := NewTracker[int](30*time.Second, func(x *Exchange) { got = append(got, line(x)) })
	two := wire(7, false, 0, []string{"a.example", "b.example"})
	twoAns := wire(7, true, 0, []string{"a.example", "b.example"}, "a.example=192.0.2.1", "b.example=192.0.2.2")
	oneAns := wire(8, true, 0, []string{"c.example"}, "c.example=192.0.2.3")
	for _, m := range []struct {
		query bool
		b     []byte
	}{{true, two}, {false, twoAns}, {false, oneAns}} {
		src, dst := stub, resolver
		if !m.query {
			src, dst = dst, src
		}
		if err := tr.Message(1, 17, src, dst, m.b, t0); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"0s 192.0.2.10:40000>192.0.2.53:53 id=7 a.example q=true r=true rcode=0 rtt=0s [a.example=192.0.2.1 b.example=192.0.2.2]",
		"0s 192.0.2.10:40000>192.0.2.53:53 id=7 b.example q=true r=true rcode=0 rtt=0s [a.example=192.0.2.1 b.example=192.0.2.2]",
		"0s 192.0.2.10:40000>192.0.2.53:53 id=8 c.example q=false r=true rcode=0 rtt=0s [c.example=192.0.2.3]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	tr = NewTracker[int](30*time.Second, func(*Exchange) {})
	q := wire(1, false, 0, []string{"www.example.com"})
	r := wire(1, true, 0, []string{"www.example.com"}, "www.example.com=192.0.2.1")
	pair := func() {
		if tr.Message(1, 17, stub, resolver, q, t0) != nil || tr.Message(1, 17, resolver, stub, r, t0) != nil {
			t.Fatal("not DNS")
		}
	}
	pair()
	// The query's name (the response's share it) and the answer's address.
	if n := testing.AllocsPerRun(100, pair); n > 2 {
		t.Errorf("%.1f allocations per query and response, want at most 2", n)
	}
}
