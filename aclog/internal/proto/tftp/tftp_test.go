package tftp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/pcaptest"
)

var (
	t0      = time.Unix(1_700_000_000, 0)
	client  = netip.MustParseAddrPort("10.0.0.1:40000")
	server  = netip.MustParseAddrPort("10.0.0.2:69")
	xferEnd = netip.MustParseAddrPort("10.0.0.2:50000")    // the server's transfer port
	content = bytes.Repeat([]byte("0123456789abcdef"), 40) // 640 bytes: a full block and a short one
)

func request(op uint16, name string, opts ...string) []byte {
	b := binary.BigEndian.AppendUint16(nil, op)
	b = append(b, name+"\x00octet\x00"...)
	for _, o := range opts {
		b = append(b, o+"\x00"...)
	}
	return b
}

func msg(op, n uint16, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, op)
	b = binary.BigEndian.AppendUint16(b, n)
	return append(b, data...)
}

// datagram is one packet of a test: who sent it, when (seconds after t0).
type datagram struct {
	fromClient bool
	at         float64
	b          []byte
	want       bool // Packet reports TFTP
}

func (d datagram) endpoints() (src, dst netip.AddrPort) {
	switch {
	case d.fromClient && len(d.b) >= 2 && (d.b[1] == opRRQ || d.b[1] == opWRQ):
		return client, server
	case d.fromClient:
		return client, xferEnd
	}
	return xferEnd, client
}

func TestTracker(t *testing.T) {
	rrq, wrq := request(opRRQ, "boot/pxelinux.0"), request(opWRQ, "up.txt")
	tests := []struct {
		name       string
		maxContent int
		packets    []datagram
		expireAt   float64 // seconds after t0; 0: Expire(all) only
		want       []Transfer
	}{
		{"read, a block retransmitted", 1 << 20, []datagram{
			{true, 0, rrq, true},
			{false, 0.1, msg(opDATA, 1, content[:512]), true},
			{true, 0.2, msg(4, 1, nil), true},
			{false, 0.3, msg(opDATA, 1, content[:512]), true},
			{false, 0.4, msg(opDATA, 2, content[512:]), true},
			{false, 0.5, msg(opDATA, 3, nil), false}, // after the end: no transfer
		}, 0, []Transfer{{Time: t0, Client: client, Server: server, Command: "RRQ", Name: "boot/pxelinux.0", Size: 640, Content: content}}},
		{"write refused", 1 << 20, []datagram{
			{true, 0, wrq, true},
			{false, 0.1, append(msg(opERROR, 2, []byte("access violation")), 0), true},
		}, 0, []Transfer{{Time: t0, Client: client, Server: server, Command: "WRQ", Name: "up.txt", Upload: true, Cut: true, ErrorCode: 2, NoData: true}}},
		{"blksize from the OACK", 1 << 20, []datagram{
			{true, 0, request(opRRQ, "big", "blksize", "600"), true},
			{false, 0.1, append(binary.BigEndian.AppendUint16(nil, opOACK), "blksize\x00600\x00"...), true},
			{false, 0.2, msg(opDATA, 1, content[:512]), true}, // short of 600: the last
		}, 0, []Transfer{{Time: t0, Client: client, Server: server, Command: "RRQ", Name: "big", Size: 512, Content: content[:512]}}},
		{"content capped", 100, []datagram{
			{true, 0, rrq, true},
			{false, 0.1, msg(opDATA, 1, content[:512]), true},
			{false, 0.2, msg(opDATA, 2, content[512:]), true},
		}, 0, []Transfer{{Time: t0, Client: client, Server: server, Command: "RRQ", Name: "boot/pxelinux.0", Size: 640, Content: content[:100], Cut: true}}},
		{"quiet past the timeout", 1 << 20, []datagram{
			{true, 0, rrq, true},
			{false, 1, msg(opDATA, 1, content[:512]), true},
		}, 1 + IdleTimeout.Seconds() + 1, []Transfer{{Time: t0, Client: client, Server: server, Command: "RRQ", Name: "boot/pxelinux.0", Size: 512, Content: content[:512], Cut: true}}},
		{"a new request ends the earlier", 1 << 20, []datagram{
			{true, 0, rrq, true},
			{true, 1, wrq, true},
		}, 0, []Transfer{
			{Time: t0, Client: client, Server: server, Command: "RRQ", Name: "boot/pxelinux.0", NoData: true},
			{Time: t0.Add(time.Second), Client: client, Server: server, Command: "WRQ", Name: "up.txt", Upload: true, NoData: true, Cut: true},
		}},
		{"not TFTP", 1 << 20, []datagram{
			{true, 0, []byte{0, 1, 'x'}, false},            // shorter than any TFTP packet
			{true, 0, request(opRRQ, ""), false},           // no file name
			{true, 0, []byte{0, 1, 'a', 0, 'b'}, false},    // no mode's terminator
			{false, 0, msg(opDATA, 1, content[:4]), false}, // data of no transfer
		}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Transfer
			tr := NewTracker(tt.maxContent, func(x *Transfer) { got = append(got, *x) })
			for i, d := range tt.packets {
				src, dst := d.endpoints()
				if ok := tr.Packet(src, dst, d.b, t0.Add(time.Duration(d.at*float64(time.Second)))); ok != d.want {
					t.Errorf("packet %d: TFTP %v, want %v", i, ok, d.want)
				}
			}
			if tt.expireAt > 0 {
				at := t0.Add(time.Duration(tt.expireAt * float64(time.Second)))
				tr.Expire(at.Add(-2*time.Second), false) // not quiet long enough yet
				if len(got) != 0 {
					t.Errorf("ended %v early", got)
				}
				tr.Expire(at, false)
				if tr.Len() != 0 {
					t.Errorf("%d transfers left after the timeout", tr.Len())
				}
			}
			tr.Expire(time.Time{}, true)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestBounded: past MaxTransfers a request is still TFTP but not followed,
// and Expire(all) ends the rest in the order of their client endpoints.
func TestBounded(t *testing.T) {
	var got []netip.AddrPort
	tr := NewTracker(0, func(x *Transfer) { got = append(got, x.Client) })
	for i := range MaxTransfers + 10 {
		src := netip.AddrPortFrom(client.Addr(), uint16(60000-i))
		if !tr.Packet(src, server, request(opRRQ, "f"), t0) {
			t.Fatalf("request %d not taken for TFTP", i)
		}
	}
	if tr.Len() != MaxTransfers {
		t.Fatalf("following %d transfers, want %d", tr.Len(), MaxTransfers)
	}
	tr.Expire(time.Time{}, true)
	if len(got) != MaxTransfers || tr.Len() != 0 {
		t.Fatalf("%d ended, %d left", len(got), tr.Len())
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Compare(got[i]) >= 0 {
			t.Fatalf("ended out of order: %v before %v", got[i-1], got[i])
		}
	}
}

// TestCapture: the transfers of a real client and server (testdata/README.md
// says how the capture was made and what the files hold).
func TestCapture(t *testing.T) {
	pattern := func(n, mul, add int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte((i*mul + add) % 256)
		}
		return b
	}
	cl := netip.MustParseAddr("127.0.0.1")
	srv := netip.MustParseAddrPort("127.0.0.69:69")
	want := []struct {
		client  uint16
		cmd     string
		name    string
		content []byte
		errCode int
	}{
		{51335, "RRQ", "pxelinux.0", pattern(640, 7, 3), 0},
		{0, "RRQ", "big.img", pattern(3000, 13, 1), 0},
		{0, "WRQ", "up.txt", bytes.Repeat([]byte("uploaded over tftp\n"), 40), 0},
		{0, "RRQ", "missing.bin", nil, 1},
	}
	var got []*Transfer
	tr := NewTracker(1<<20, func(x *Transfer) { got = append(got, x) })
	segs := pcaptest.Segments(t, "testdata/curl-tftpd-hpa.pcap")
	requests, late := 0, 0
	for _, s := range segs {
		if !tr.Packet(s.Src, s.Dst, s.Data, s.Time) {
			// The ACK of a last block comes after the transfer ended.
			if s.Data[1] != 4 {
				t.Errorf("%v > %v: not taken for TFTP: % x", s.Src, s.Dst, s.Data)
			}
			late++
		}
		if s.Dst == srv {
			requests++
		}
	}
	if late != 3 {
		t.Errorf("%d packets not taken for TFTP, want the 3 last ACKs", late)
	}
	tr.Expire(time.Time{}, true)
	if len(got) != len(want) || requests != len(want) {
		t.Fatalf("%d transfers of %d requests, want %d", len(got), requests, len(want))
	}
	for i, w := range want {
		g := got[i]
		upload := w.cmd == "WRQ"
		cut := w.errCode != 0
		if g.Client.Addr() != cl || (w.client != 0 && g.Client.Port() != w.client) || g.Server != srv ||
			g.Command != w.cmd || g.Name != w.name || g.Upload != upload || g.Size != int64(len(w.content)) ||
			!bytes.Equal(g.Content, w.content) || g.Cut != cut || g.ErrorCode != w.errCode || g.NoData != (w.content == nil) {
			t.Errorf("transfer %d: %+v", i, *g)
		}
	}
	if !got[0].Time.Equal(segs[0].Time) {
		t.Errorf("first transfer at %v, want its request's time %v", got[0].Time, segs[0].Time)
	}
}
