// Package pcaptest extracts transport payloads from the real captures in
// aclog/testdata for the protocol parsers' tests and fuzz seeds, so those
// tests run on real traffic without going through the whole engine.
package pcaptest

import (
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/acstore/acstore/aclog/internal/capture"
)

// Segment is the payload of one TCP segment or UDP datagram.
type Segment struct {
	Conn       int  // connection number, in order of first appearance
	FromClient bool // sent by the side that sent the connection's first packet
	Src, Dst   netip.AddrPort
	UDP        bool
	Data       []byte
	Time       time.Time // the packet's capture time
}

type connKey struct {
	a, b netip.AddrPort
	udp  bool
}

type conn struct {
	id     int
	client netip.AddrPort
	next   map[netip.AddrPort]uint32 // next expected sequence number per sender
}

// Segments returns the non-empty payloads of every TCP and UDP packet in
// path, in capture order. TCP retransmissions of bytes already returned are
// dropped and SYNs set the starting sequence, which is enough for the test
// captures (they have no reordering the parsers' tests rely on).
func Segments(t testing.TB, path string) []Segment {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	conns := map[connKey]*conn{}
	var out []Segment
	for {
		data, ci, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		seg, tcp, ok := decode(src.LinkType(), data, ci)
		if !ok {
			continue
		}
		k := connKey{seg.Src, seg.Dst, seg.UDP}
		if k.b.Compare(k.a) < 0 {
			k.a, k.b = k.b, k.a
		}
		c := conns[k]
		if c == nil || (tcp != nil && tcp.SYN && !tcp.ACK && c.next[seg.Src] != tcp.Seq+1) {
			c = &conn{id: len(conns), client: seg.Src, next: map[netip.AddrPort]uint32{}}
			conns[k] = c
		}
		if tcp != nil && !c.advance(&seg, tcp) {
			continue
		}
		if len(seg.Data) == 0 {
			continue
		}
		seg.Conn = c.id
		seg.FromClient = seg.Src == c.client
		seg.Data = append([]byte(nil), seg.Data...)
		out = append(out, seg)
	}
}

// decode reads the addresses, ports and payload (not copied) of one packet
// of a capture of link type link; tcp is its TCP layer, nil for UDP. False
// when it is not TCP or UDP over IP.
func decode(link layers.LinkType, data []byte, ci gopacket.CaptureInfo) (seg Segment, tcp *layers.TCP, ok bool) {
	var first gopacket.Decoder = link
	if link == layers.LinkTypeIPv4 || link == layers.LinkTypeRaw {
		first = layers.LayerTypeIPv4
	}
	p := gopacket.NewPacket(data, first, gopacket.NoCopy)
	var sa, da netip.Addr
	if ip, ok := p.NetworkLayer().(*layers.IPv4); ok {
		sa, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		da, _ = netip.AddrFromSlice(ip.DstIP.To4())
	} else if ip, ok := p.NetworkLayer().(*layers.IPv6); ok {
		sa, _ = netip.AddrFromSlice(ip.SrcIP)
		da, _ = netip.AddrFromSlice(ip.DstIP)
	} else {
		return Segment{}, nil, false
	}
	seg = Segment{Time: ci.Timestamp}
	switch l := p.TransportLayer().(type) {
	case *layers.TCP:
		tcp = l
		seg.Src, seg.Dst = netip.AddrPortFrom(sa, uint16(l.SrcPort)), netip.AddrPortFrom(da, uint16(l.DstPort))
		seg.Data = l.Payload
	case *layers.UDP:
		seg.UDP = true
		seg.Src, seg.Dst = netip.AddrPortFrom(sa, uint16(l.SrcPort)), netip.AddrPortFrom(da, uint16(l.DstPort))
		seg.Data = l.Payload
	default:
		return Segment{}, nil, false
	}
	return seg, tcp, true
}

// advance moves the sequence number c expects next from seg's sender past
// TCP segment seg, cutting from seg.Data the bytes already seen. False
// when nothing of seg is new (a SYN, a whole retransmission).
func (c *conn) advance(seg *Segment, tcp *layers.TCP) bool {
	next, seen := c.next[seg.Src]
	if tcp.SYN {
		c.next[seg.Src] = tcp.Seq + 1
		return false
	}
	if !seen {
		next = tcp.Seq
	}
	if d := int32(next - tcp.Seq); d > 0 {
		// Retransmitted bytes: keep only what is new.
		if int(d) >= len(seg.Data) {
			return false
		}
		seg.Data = seg.Data[d:]
	}
	c.next[seg.Src] = next + uint32(len(seg.Data))
	if d := int32(next - tcp.Seq); d < 0 {
		c.next[seg.Src] = tcp.Seq + uint32(len(seg.Data))
	}
	return true
}
