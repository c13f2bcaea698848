package audit

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// udpFrame builds an Ethernet/IPv4/UDP frame.
func udpFrame(t *testing.T, src, dst string, sport, dport uint16, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tftpMsg(op uint16, block uint16, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, op)
	b = binary.BigEndian.AppendUint16(b, block)
	return append(b, data...)
}

func TestTFTP(t *testing.T) {
	c := &collector{}
	e, err := New(DefaultConfig(), c)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1_700_000_000, 0)
	send := func(src, dst string, sp, dp uint16, p []byte) {
		ts = ts.Add(time.Millisecond)
		f := udpFrame(t, src, dst, sp, dp, p)
		e.Packet(layers.LinkTypeEthernet, f, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(f), Length: len(f)})
	}
	content := bytes.Repeat([]byte("0123456789abcdef"), 40) // 640 bytes: a full block and a short one
	send("10.0.0.1", "10.0.0.2", 40000, 69, append([]byte{0, 1}, "boot/pxelinux.0\x00octet\x00"...))
	send("10.0.0.2", "10.0.0.1", 50000, 40000, tftpMsg(3, 1, content[:512]))
	send("10.0.0.1", "10.0.0.2", 40000, 50000, tftpMsg(4, 1, nil))
	send("10.0.0.2", "10.0.0.1", 50000, 40000, tftpMsg(3, 1, content[:512])) // retransmitted
	send("10.0.0.2", "10.0.0.1", 50000, 40000, tftpMsg(3, 2, content[512:]))
	// A write refused with an error.
	send("10.0.0.1", "10.0.0.2", 40001, 69, append([]byte{0, 2}, "up.txt\x00octet\x00"...))
	send("10.0.0.2", "10.0.0.1", 50001, 40001, append(tftpMsg(5, 2, []byte("access violation")), 0))
	e.Close()
	if len(c.files) != 2 {
		t.Fatalf("%d transfers", len(c.files))
	}
	f := c.files[0]
	if f.Proto != "tftp" || f.Command != "RRQ" || f.Name != "boot/pxelinux.0" || f.Upload || f.Size != 640 || !bytes.Equal(f.Content, content) || f.Cut {
		t.Errorf("read %+v", *f)
	}
	if w := c.files[1]; w.Command != "WRQ" || !w.Upload || w.Reply != 2 || !w.NoData {
		t.Errorf("write %+v", *w)
	}
	if len(c.dns) != 0 {
		t.Errorf("TFTP taken for DNS: %+v", c.dns)
	}
}
