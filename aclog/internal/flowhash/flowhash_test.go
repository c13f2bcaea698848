package flowhash

import (
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// frame serializes layers into a frame.
func frame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func eth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: et}
}

func ip4(src, dst string) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

func ip6(src, dst string) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

var payload = gopacket.Payload("0123456789abcdef")

func TestSum(t *testing.T) {
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	v4 := frame(t, eth(layers.EthernetTypeIPv4), ip4("10.1.2.3", "192.0.2.77"), payload)
	v4back := frame(t, eth(layers.EthernetTypeIPv4), ip4("192.0.2.77", "10.1.2.3"), payload)
	frag := ip4("10.1.2.3", "192.0.2.77")
	frag.Flags, frag.FragOffset = 0, 185 // a last fragment: no ports
	v4frag := frame(t, eth(layers.EthernetTypeIPv4), frag, payload)
	vlan := frame(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4}, ip4("192.0.2.77", "10.1.2.3"), payload)
	qinq := frame(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 8, Type: layers.EthernetTypeIPv4}, ip4("10.1.2.3", "192.0.2.77"), payload)
	u6 := ip6("2001:db8::1", "2001:db8:ffff::53")
	v6 := frame(t, eth(layers.EthernetTypeIPv6), u6, udp, payload)
	v6back := frame(t, eth(layers.EthernetTypeIPv6), ip6("2001:db8:ffff::53", "2001:db8::1"), payload)
	raw4 := frame(t, ip4("10.1.2.3", "192.0.2.77"), payload)
	sll := append(make([]byte, 14), 0x08, 0x00)
	sll = append(sll, raw4...)
	arp := frame(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, SourceHwAddress: make([]byte, 6), SourceProtAddress: []byte{10, 1, 2, 3},
		DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 1, 2, 4}})

	want4 := Sum(layers.LinkTypeEthernet, v4)
	want6 := Sum(layers.LinkTypeEthernet, v6)
	if want4 == 0 || want6 == 0 || want4 == want6 {
		t.Fatalf("IPv4 %08x, IPv6 %08x: want two different non-zero sums", want4, want6)
	}
	for _, tc := range []struct {
		name  string
		lt    layers.LinkType
		frame []byte
		want  uint32
	}{
		{"IPv4 back", layers.LinkTypeEthernet, v4back, want4},
		{"IPv4 fragment", layers.LinkTypeEthernet, v4frag, want4},
		{"802.1Q", layers.LinkTypeEthernet, vlan, want4},
		{"QinQ", layers.LinkTypeEthernet, qinq, want4},
		{"raw IP", layers.LinkTypeRaw, raw4, want4},
		{"Linux cooked", layers.LinkTypeLinuxSLL, sll, want4},
		{"IPv6 back", layers.LinkTypeEthernet, v6back, want6},
		{"ARP", layers.LinkTypeEthernet, arp, 0},
		{"IPv4 cut short", layers.LinkTypeEthernet, v4[:14+19], 0},
		{"IPv6 cut short", layers.LinkTypeEthernet, v6[:14+39], 0},
		{"tag cut short", layers.LinkTypeEthernet, vlan[:16], 0},
		{"empty", layers.LinkTypeEthernet, nil, 0},
	} {
		if got := Sum(tc.lt, tc.frame); got != tc.want {
			t.Errorf("%s: Sum %08x, want %08x", tc.name, got, tc.want)
		}
	}
}

// TestShardSpread: the addresses of a /16 of clients talking to a few
// servers are spread evenly enough over 2 and 3 workers.
func TestShardSpread(t *testing.T) {
	for _, n := range []int{2, 3} {
		count := make([]int, n)
		for c := range 4096 {
			src := net.IPv4(10, 0, byte(c>>8), byte(c)).String()
			dst := net.IPv4(192, 0, 2, byte(c%4)).String()
			count[Shard(layers.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeIPv4), ip4(src, dst), payload), n)]++
		}
		for i, k := range count {
			if k < 4096/n*9/10 {
				t.Errorf("%d workers: worker %d has %d of 4096 address pairs", n, i, k)
			}
		}
	}
}

func TestProgramAssembles(t *testing.T) {
	p, err := Program()
	if err != nil {
		t.Fatal(err)
	}
	if len(p) > 4096 {
		t.Fatalf("%d instructions: more than the kernel takes", len(p))
	}
}
