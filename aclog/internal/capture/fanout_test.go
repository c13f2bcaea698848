//go:build linux && cgo

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/acstore/acstore/aclog/internal/flowhash"
	"github.com/acstore/acstore/internal/testenv"
)

// vethPair creates a veth pair and returns its two ends: frames written
// to the second arrive on the first.
func vethPair(t *testing.T) (capture, send string) {
	t.Helper()
	testenv.Root(t, "a veth pair")
	ipTool := testenv.Tool(t, "ip")
	capture, send = fmt.Sprintf("acf%da", os.Getpid()%100000), fmt.Sprintf("acf%db", os.Getpid()%100000)
	run := func(args ...string) error {
		if out, err := exec.Command(ipTool, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	err := run("link", "add", capture, "type", "veth", "peer", "name", send)
	testenv.Need(t, err == nil, "cannot create a veth pair: %v", err)
	t.Cleanup(func() { run("link", "del", capture) })
	for _, name := range []string{capture, send} {
		if err := run("link", "set", name, "up"); err != nil {
			t.Fatal(err)
		}
	}
	return capture, send
}

// fanoutFrames are frames of many address pairs: IPv4 whole and in
// fragments, IPv6, behind one and two VLAN tags, and ARP. Each carries
// its index as the last 4 bytes.
func fanoutFrames(t *testing.T) [][]byte {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	eth := func(et layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: et}
	}
	var frames [][]byte
	add := func(ls ...gopacket.SerializableLayer) {
		tag := binary.BigEndian.AppendUint32([]byte("fanout"), uint32(len(frames)))
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, append(ls, gopacket.Payload(tag))...); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, buf.Bytes())
	}
	for i := range 64 {
		a, b := net.IPv4(10, 9, byte(i>>4), byte(i)), net.IPv4(192, 0, 2, byte(i*7))
		v4 := func(src, dst net.IP, frag uint16) *layers.IPv4 {
			return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst,
				Flags: layers.IPv4MoreFragments, FragOffset: frag}
		}
		add(eth(layers.EthernetTypeIPv4), v4(a, b, 0), &layers.UDP{SrcPort: layers.UDPPort(1024 + i), DstPort: 53})
		add(eth(layers.EthernetTypeIPv4), v4(b, a, 0))
		add(eth(layers.EthernetTypeIPv4), v4(a, b, 185)) // a later fragment: no ports
		add(eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4}, v4(a, b, 0))
		add(eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 8, Type: layers.EthernetTypeIPv4}, v4(b, a, 0))
		a6, b6 := net.ParseIP(fmt.Sprintf("2001:db8::%x", i)), net.ParseIP(fmt.Sprintf("2001:db8:%x::53", i*13))
		add(eth(layers.EthernetTypeIPv6), &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: a6, DstIP: b6},
			&layers.UDP{SrcPort: 53, DstPort: layers.UDPPort(2000 + i)})
		add(eth(layers.EthernetTypeIPv6), &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolNoNextHeader, SrcIP: b6, DstIP: a6})
		add(eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, SourceHwAddress: mac, SourceProtAddress: a.To4(),
			DstHwAddress: make([]byte, 6), DstProtAddress: b.To4()})
	}
	return frames
}

// TestFanoutByFlowhash sends frames into a veth pair captured by three
// AF_PACKET sockets in a fanout group: the kernel gives each frame to the
// socket flowhash.Shard names, so a live capture is shared among workers
// as the same frames read from a file are. VLAN tags reach the ring
// stripped (the kernel reports them aside), which flowhash skips anyway.
func TestFanoutByFlowhash(t *testing.T) {
	iface, peer := vethPair(t)
	const sockets = 3
	src, err := OpenAFPacket(LiveConfig{Interface: iface, BufferSize: 8 << 20}, sockets)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := src.(*afSource)

	frames := fanoutFrames(t)
	send(t, peer, frames)
	got := map[uint32]int{} // frame index: socket
	perSocket := make([]int, sockets)
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(frames) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d frames captured in 10s", len(got), len(frames))
		}
		data, _, err := src.ReadPacket()
		switch {
		case errors.Is(err, ErrTimeout):
			continue
		case err != nil:
			t.Fatal(err)
		}
		i := strings.Index(string(data), "fanout")
		if i < 0 || i+10 > len(data) {
			continue // the kernel's own (IPv6 neighbour discovery)
		}
		idx := binary.BigEndian.Uint32(data[i+6:])
		got[idx] = s.at
		perSocket[s.at]++
		if want := flowhash.Shard(layers.LinkTypeEthernet, data, sockets); s.at != want {
			t.Errorf("frame %d (%x...) came through socket %d, flowhash says %d", idx, data[:min(len(data), 40)], s.at, want)
		}
	}
	for i, n := range perSocket {
		if n < len(frames)/sockets/2 {
			t.Errorf("socket %d got %d of %d frames: %v", i, n, len(frames), perSocket)
		}
	}
	if st := src.Stats(); st.KernelDropped != 0 {
		t.Errorf("kernel dropped %d", st.KernelDropped)
	}
}

// send writes frames on iface through a packet socket.
func send(t *testing.T, iface string, frames [][]byte) {
	t.Helper()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Ifindex: ifi.Index}
	for i, f := range frames {
		if err := unix.Sendto(fd, f, 0, to); err != nil {
			t.Fatalf("sending a frame on %s: %v", iface, err)
		}
		if i%64 == 63 {
			// The receiving CPU's backlog holds 1000 frames (shared
			// with whatever else runs): let it drain.
			time.Sleep(time.Millisecond)
		}
	}
}
