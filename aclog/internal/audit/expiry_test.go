package audit

import (
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// flagFrame builds an Ethernet/IPv4/TCP frame with the given flags.
func flagFrame(t testing.TB, src, dst net.IP, sport, dport uint16, seq uint32, set func(*layers.TCP)) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Window: 65535}
	set(tcp)
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type reasonSink struct {
	countingSink
	got []Session
}

func (r *reasonSink) Session(s *Session) { r.got = append(r.got, *s) }

// TestClosedLinger: a session closed by FIN from both sides, or by RST,
// lingers TCPClosedLinger (5 s by default), not minutes, and ends with its
// flag; an open one waits for the idle timeout.
func TestClosedLinger(t *testing.T) {
	cli, srv := net.IPv4(10, 0, 0, 1), net.IPv4(10, 0, 0, 2)
	start := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name   string
		close  []func(*layers.TCP) // client, then server
		reason EndReason
		after  time.Duration // the session is still there before, gone after
	}{
		{"fin", []func(*layers.TCP){func(t *layers.TCP) { t.FIN, t.ACK = true, true }, func(t *layers.TCP) { t.FIN, t.ACK = true, true }}, EndFIN, 5 * time.Second},
		{"rst", []func(*layers.TCP){func(t *layers.TCP) { t.RST = true }}, EndRST, 5 * time.Second},
		{"open", nil, EndIdle, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &reasonSink{}
			e, err := New(DefaultConfig(), sink)
			if err != nil {
				t.Fatal(err)
			}
			feed := func(frame []byte, at time.Time) {
				e.Packet(layers.LinkTypeEthernet, frame, gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(frame), Length: len(frame)})
			}
			feed(flagFrame(t, cli, srv, 40000, 80, 100, func(t *layers.TCP) { t.SYN = true }), start)
			feed(flagFrame(t, srv, cli, 80, 40000, 900, func(t *layers.TCP) { t.SYN, t.ACK = true, true }), start)
			for i, f := range tc.close {
				if i == 0 {
					feed(flagFrame(t, cli, srv, 40000, 80, 101, f), start)
				} else {
					feed(flagFrame(t, srv, cli, 80, 40000, 901, f), start)
				}
			}
			e.Flush(start.Add(tc.after - time.Second))
			if len(sink.got) != 0 {
				t.Fatalf("session ended %v after its last packet, before %v", tc.after-time.Second, tc.after)
			}
			e.Flush(start.Add(tc.after + 2*time.Second))
			if len(sink.got) != 1 || sink.got[0].Reason != tc.reason {
				t.Fatalf("sessions %+v, want one ended %v", sink.got, tc.reason)
			}
			if n := e.tcpList.n + e.closedList.n + e.sessions.len(); n != 0 {
				t.Errorf("%d entries left in the session table and lists", n)
			}
		})
	}
}
