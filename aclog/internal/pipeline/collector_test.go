package pipeline

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
)

// keeper is a sink that keeps deep copies of what it is given, in order.
type keeper struct{ got []any }

func (k *keeper) Session(v *audit.Session)  { c := *v; k.got = append(k.got, c) }
func (k *keeper) HTTP(v *audit.HTTPRequest) { c := *v; k.got = append(k.got, c) }
func (k *keeper) DNS(v *audit.DNSQuery) {
	c := *v
	c.Answers = slices.Clone(v.Answers)
	k.got = append(k.got, c)
}
func (k *keeper) TLS(v *audit.TLSHandshake) {
	c := *v
	c.ALPN = slices.Clone(v.ALPN)
	k.got = append(k.got, c)
}
func (k *keeper) Mail(v *audit.Mail)             { k.got = append(k.got, v) }
func (k *keeper) Credential(v *audit.Credential) { k.got = append(k.got, v) }
func (k *keeper) File(v *audit.FileTransfer)     { k.got = append(k.got, v) }
func (k *keeper) Post(v *audit.Post)             { k.got = append(k.got, v) }
func (k *keeper) Chat(v *audit.Chat)             { k.got = append(k.got, v) }

// engineLike emits events the way audit.Engine does: the per-session
// records (and their slices) from memory it overwrites for the next one.
type engineLike struct {
	ses     audit.Session
	req     audit.HTTPRequest
	dns     audit.DNSQuery
	tls     audit.TLSHandshake
	answers []audit.DNSAnswer
	alpn    []string
}

// emit sends event i of a fixed series to sink and returns what the sink
// must have seen.
func (e *engineLike) emit(sink audit.Sink, i int) any {
	client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(1000+i))
	server := netip.MustParseAddrPort("192.0.2.1:80")
	at := time.Unix(1_700_000_000+int64(i), 0)
	switch i % 6 {
	case 0:
		e.ses = audit.Session{Proto: audit.TCP, Client: client, Server: server, Start: at, End: at, ClientPackets: uint64(i), App: "http"}
		sink.Session(&e.ses)
		return e.ses
	case 1:
		e.req = audit.HTTPRequest{Time: at, Client: client, Server: server, Method: "GET", URI: "/" + string(rune('a'+i%26))}
		sink.HTTP(&e.req)
		return e.req
	case 2:
		e.answers = append(e.answers[:0], audit.DNSAnswer{Name: "x", Type: 1, Data: client.Addr().String()})
		e.dns = audit.DNSQuery{Time: at, Client: client, Server: server, ID: uint16(i), Name: "x", Answers: e.answers}
		sink.DNS(&e.dns)
		want := e.dns
		want.Answers = slices.Clone(e.answers)
		return want
	case 3:
		e.alpn = append(e.alpn[:0], "h2", client.String())
		e.tls = audit.TLSHandshake{Time: at, Client: client, Server: server, SNI: "example.com", ALPN: e.alpn}
		sink.TLS(&e.tls)
		want := e.tls
		want.ALPN = slices.Clone(e.alpn)
		return want
	case 4:
		m := &audit.Mail{Time: at, Client: client, Server: server, Proto: "smtp"}
		sink.Mail(m)
		return m
	default:
		d := &audit.DNSQuery{Time: at, Client: client, Server: server, ID: uint16(i), Name: "no answers"}
		sink.DNS(d)
		return *d
	}
}

// TestCollectorCopies: what the lanes deliver is what the engine emitted,
// in its order, though the engine overwrote every record once the call
// returned, and though the lists the lanes hand back are filled again
// while others are still waiting to be applied.
func TestCollectorCopies(t *testing.T) {
	const lanes = 2
	c := newCollector(lanes)
	var e engineLike
	want := make([][]any, lanes)
	var queued [][]*laneEvents // taken, not yet applied: the lanes are behind
	got := make([]keeper, lanes)
	apply := func(evs []*laneEvents) {
		for k, ev := range evs {
			ev.deliver(&got[k])
			c.recycle(ev)
		}
	}
	i := 0
	for epoch := range 12 {
		for range 5 + epoch*7 {
			// The lane the collector picks for the event's client.
			w := e.emit(c, i)
			k := 0
			if _, other := w.(*audit.Mail); !other {
				k = clientLane(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), lanes)
			}
			want[k] = append(want[k], w)
			i++
		}
		queued = append(queued, c.take())
		if len(queued) == 3 {
			apply(queued[0])
			queued = queued[1:]
		}
	}
	for _, evs := range queued {
		apply(evs)
	}
	apply(c.take())
	for k := range lanes {
		if !reflect.DeepEqual(got[k].got, want[k]) {
			t.Errorf("lane %d: %d events delivered, %d emitted; first difference at %d", k, len(got[k].got), len(want[k]), firstDiff(got[k].got, want[k]))
		}
	}
}

func firstDiff(a, b []any) int {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestCollectorReuse: a list a lane handed back is filled again, and
// one still waiting for its lane is not.
func TestCollectorReuse(t *testing.T) {
	c := newCollector(1)
	var e engineLike
	e.emit(c, 0)
	first := c.take()[0]
	e.emit(c, 6)
	second := c.take()[0]
	if first == second {
		t.Fatal("a list waiting for its lane was given to the worker again")
	}
	if first.sessions.n != 1 || first.sessions.at(0).ClientPackets != 0 || second.sessions.at(0).ClientPackets != 6 {
		t.Fatalf("lists written over: %+v, %+v", *first.sessions.at(0), *second.sessions.at(0))
	}
	c.recycle(first)
	if len(first.order) != 0 {
		t.Fatalf("a list handed back keeps %d events", len(first.order))
	}
	c.take() // the list being filled; the one handed back is next
	if c.lanes[0] != first {
		t.Fatal("a list handed back was not reused")
	}
}
