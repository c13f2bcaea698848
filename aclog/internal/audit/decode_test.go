package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"

	"github.com/acstore/acstore/aclog/internal/capture"
)

// frameFields is what the engine reads from a decoded frame.
type frameFields struct {
	src, dst       netip.Addr
	proto, ttl     uint8
	ipLen          uint32
	sport, dport   uint16
	seq, ack       uint32
	flags          [9]bool
	header, result []byte
}

func tcpFields(f *frameFields, t *layers.TCP) {
	f.sport, f.dport, f.seq, f.ack = uint16(t.SrcPort), uint16(t.DstPort), t.Seq, t.Ack
	f.flags = [9]bool{t.FIN, t.SYN, t.RST, t.PSH, t.ACK, t.URG, t.ECE, t.CWR, t.NS}
	f.header, f.result = t.Contents, t.Payload
}

// slowFields decodes data with gopacket's parser, as the engine did for
// every frame, and reports whether it is a frame of the fast path's shape
// that gopacket decoded whole.
func slowFields(t testing.TB, data []byte) (frameFields, bool) {
	e, err := New(DefaultConfig(), nopSink{})
	if err != nil {
		t.Fatal(err)
	}
	p := e.parser(layers.LayerTypeEthernet)
	if err := p.DecodeLayers(data, &e.decoded); err != nil || p.Truncated || len(e.decoded) != 3 ||
		e.decoded[1] != layers.LayerTypeIPv4 || e.ip4.IHL != 5 || e.ip4.Version != 4 {
		return frameFields{}, false
	}
	ip := &e.ip4
	f := frameFields{src: netip.AddrFrom4([4]byte(ip.SrcIP)), dst: netip.AddrFrom4([4]byte(ip.DstIP)),
		proto: uint8(ip.Protocol), ttl: ip.TTL, ipLen: uint32(ip.Length)}
	switch e.decoded[2] {
	case layers.LayerTypeTCP:
		tcpFields(&f, &e.tcp)
	case layers.LayerTypeUDP:
		f.sport, f.dport, f.header, f.result = uint16(e.udp.SrcPort), uint16(e.udp.DstPort), e.udp.Contents, e.udp.Payload
	default:
		return frameFields{}, false
	}
	return f, true
}

// fastFields decodes data with the fast path.
func fastFields(t testing.TB, data []byte) (frameFields, bool) {
	e, err := New(DefaultConfig(), nopSink{})
	if err != nil {
		t.Fatal(err)
	}
	src, dst, proto, ok := e.decodeFast(data)
	if !ok {
		return frameFields{}, false
	}
	f := frameFields{src: src, dst: dst, proto: proto, ttl: e.pktTTL, ipLen: e.pktIPLen}
	if proto == 6 {
		tcpFields(&f, &e.tcp)
	} else {
		f.sport, f.dport, f.header, f.result = uint16(e.udp.SrcPort), uint16(e.udp.DstPort), e.udp.Contents, e.udp.Payload
	}
	return f, true
}

// checkFast fails unless the fast path takes only frames gopacket decodes
// whole, and reads them as gopacket does. It reports whether it took data.
func checkFast(t *testing.T, data []byte) bool {
	t.Helper()
	fast, ok := fastFields(t, data)
	if !ok {
		return false
	}
	slow, slowOK := slowFields(t, data)
	if !slowOK {
		t.Fatalf("fast path took a frame gopacket refuses or finds truncated: % x", data)
	}
	if fast.src != slow.src || fast.dst != slow.dst || fast.proto != slow.proto || fast.ttl != slow.ttl || fast.ipLen != slow.ipLen ||
		fast.sport != slow.sport || fast.dport != slow.dport || fast.seq != slow.seq || fast.ack != slow.ack || fast.flags != slow.flags ||
		!bytes.Equal(fast.header, slow.header) || !bytes.Equal(fast.result, slow.result) {
		t.Fatalf("fast path read\n%+v\ngopacket read\n%+v\nfrom % x", fast, slow, data)
	}
	return true
}

func TestFastIPv4(t *testing.T) {
	src, dst := net.IPv4(10, 0, 0, 1), net.IPv4(10, 0, 0, 2)
	tcp := tcpFrame(t, src, dst, 40000, 80, 7, false, []byte("GET / HTTP/1.1\r\n\r\n"))
	udp := udpFrame(t, "10.0.0.1", "10.0.0.2", 5353, 53, []byte("query"))
	edit := func(frame []byte, f func(b []byte) []byte) []byte { return f(bytes.Clone(frame)) }
	put16 := func(off int, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint16(b[off:], v); return b }
	}
	// withOptions gives the TCP header of tcp the options opts (a
	// multiple of 4 bytes), fixing the lengths.
	withOptions := func(opts ...byte) []byte {
		b := append(bytes.Clone(tcp[:14+20+20]), opts...)
		b = append(b, tcp[14+20+20:]...)
		binary.BigEndian.PutUint16(b[14+2:], uint16(len(b)-14))
		b[14+20+12] = byte(5+len(opts)/4) << 4
		return b
	}
	for _, c := range []struct {
		name  string
		frame []byte
		fast  bool
	}{
		{"tcp", tcp, true},
		{"udp", udp, true},
		{"tcp padded", append(bytes.Clone(tcp), 0, 0, 0, 0), true},
		{"tcp options", withOptions(2, 4, 5, 0xb4, 1, 1, 4, 2), true},
		{"tcp end of options then padding", withOptions(1, 0, 9, 9), true},
		{"tcp option past header", withOptions(1, 1, 8, 10), false},
		{"tcp option length 1", withOptions(1, 1, 8, 1), false},
		{"tcp option without length", withOptions(1, 1, 1, 8), false},
		{"tcp data offset 4", edit(tcp, func(b []byte) []byte { b[14+20+12] = 4 << 4; return b }), false},
		{"tcp data offset past segment", edit(tcp, func(b []byte) []byte { b[14+20+12] = 15 << 4; return b }), false},
		{"ip truncated", tcp[:len(tcp)-1], false},
		{"ip length 0 (TSO)", edit(tcp, put16(14+2, 0)), false},
		{"ip length 19", edit(tcp, put16(14+2, 19)), false},
		{"ip options", edit(tcp, func(b []byte) []byte { b[14] = 0x46; return b }), false},
		{"ip version 6 in an IPv4 frame", edit(tcp, func(b []byte) []byte { b[14] = 0x65; return b }), false},
		{"more fragments", edit(tcp, put16(14+6, 0x2000)), false},
		{"fragment offset", edit(tcp, put16(14+6, 0x0001)), false},
		{"don't fragment", edit(tcp, put16(14+6, 0x4000)), true},
		{"icmp", edit(tcp, func(b []byte) []byte { b[14+9] = 1; return b }), false},
		{"vlan", edit(tcp, put16(12, uint16(layers.EthernetTypeDot1Q))), false},
		{"ipv6", edit(tcp, put16(12, uint16(layers.EthernetTypeIPv6))), false},
		{"llc", edit(tcp, put16(12, 100)), false},
		{"udp length 0 (jumbogram)", edit(udp, put16(14+20+4, 0)), true},
		{"udp length 7", edit(udp, put16(14+20+4, 7)), false},
		{"udp length past datagram", edit(udp, put16(14+20+4, 8+6)), false},
		{"udp length short of datagram", edit(udp, put16(14+20+4, 8+2)), true},
		{"tcp header cut", edit(tcp, func(b []byte) []byte { binary.BigEndian.PutUint16(b[14+2:], 20+19); return b[:14+20+19] }), false},
		{"udp header cut", edit(udp, func(b []byte) []byte { binary.BigEndian.PutUint16(b[14+2:], 20+7); return b[:14+20+7] }), false},
		{"short", tcp[:14+19], false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := checkFast(t, c.frame); got != c.fast {
				t.Fatalf("fast path took it: %v, want %v", got, c.fast)
			}
		})
	}
}

// TestFastIPv4Captures checks the fast path on every frame of the bundled
// captures, and that it takes most of them.
func TestFastIPv4Captures(t *testing.T) {
	var frames, fast int
	err := filepath.WalkDir(pcapRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
			return err
		}
		src, err := capture.OpenFile(path)
		if err != nil {
			return err
		}
		defer src.Close()
		for {
			data, _, err := src.ReadPacket()
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, capture.ErrTruncated) {
					return nil
				}
				return err
			}
			if src.LinkType() != layers.LinkTypeEthernet {
				return nil
			}
			frames++
			if checkFast(t, data) {
				fast++
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if frames < 1000 || fast < frames/2 {
		t.Fatalf("the fast path took %d of %d Ethernet frames; want most of at least 1000", fast, frames)
	}
	t.Logf("the fast path took %d of %d Ethernet frames", fast, frames)
}

// FuzzFastIPv4: whatever the bytes, the fast path takes only frames that
// gopacket decodes whole, and reads them as gopacket does.
func FuzzFastIPv4(f *testing.F) {
	f.Add(tcpFrame(f, net.IPv4(10, 0, 0, 1), net.IPv4(10, 0, 0, 2), 40000, 80, 7, true, nil))
	f.Add(tcpFrame(f, net.IPv4(10, 0, 0, 1), net.IPv4(10, 0, 0, 2), 40000, 80, 7, false, []byte("GET / HTTP/1.1\r\n\r\n")))
	f.Fuzz(func(t *testing.T, frame []byte) {
		checkFast(t, frame)
	})
}
