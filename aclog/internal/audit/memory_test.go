package audit

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// tcpFrame builds an Ethernet/IPv4/TCP frame.
func tcpFrame(t testing.TB, src, dst net.IP, sport, dport uint16, seq uint32, syn bool, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, SYN: syn, ACK: !syn, Window: 65535}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type countingSink struct {
	sessions map[EndReason]int
}

func (c *countingSink) Session(s *Session)     { c.sessions[s.Reason]++ }
func (c *countingSink) HTTP(*HTTPRequest)      {}
func (c *countingSink) DNS(*DNSQuery)          {}
func (c *countingSink) TLS(*TLSHandshake)      {}
func (c *countingSink) Mail(*Mail)             {}
func (c *countingSink) Credential(*Credential) {}
func (c *countingSink) File(*FileTransfer)     {}
func (c *countingSink) Post(*Post)             {}
func (c *countingSink) Chat(*Chat)             {}

// reassemblyPages is how many pages (of the caps' unit) reassembly holds.
func (e *Engine) reassemblyPages(testing.TB) int {
	return (e.queuedBytes + pageBytes - 1) / pageBytes
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestReassemblyMemoryBound feeds 20,000 TCP connections that never close,
// each leaving out-of-order data waiting behind a hole, and checks that the
// buffered pages never exceed the configured total and the heap stays
// under a stated bound; then that the idle timeout frees everything.
func TestReassemblyMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("memory test")
	}
	const (
		conns      = 20000
		pagesTotal = 2000 // ~3.8 MB of buffered segments at most
		perConn    = 8
		// The bound: 20,000 sessions and reassembly connections (about
		// 1.5 KB each with their maps, parsers' idle state and the
		// assembler's per-connection state) plus 2,000 pages of 1.9 KB,
		// with room for the allocator: 64 MB. Without the page caps the
		// same input buffers 20,000 x 3 segments x 1.9 KB = 114 MB.
		heapBound = 64 << 20
	)
	cfg := DefaultConfig()
	cfg.MaxBufferedPagesTotal = pagesTotal
	cfg.MaxBufferedPagesPerConn = perConn
	sink := &countingSink{sessions: map[EndReason]int{}}
	e, err := New(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	base := heapInuse()
	start := time.Unix(1_700_000_000, 0)
	payload := make([]byte, 1400)
	maxPages := 0
	for i := range conns {
		src := net.IPv4(10, 1, byte(i>>8), byte(i))
		dst := net.IPv4(192, 0, 2, 1)
		sport := uint16(10000 + i%50000)
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Millisecond)}
		frame := tcpFrame(t, src, dst, sport, 80, 1000, true, nil)
		ci.CaptureLength, ci.Length = len(frame), len(frame)
		e.Packet(layers.LinkTypeEthernet, frame, ci)
		// Three segments after a 1400-byte hole: reassembly must buffer
		// them (or, at the caps, skip the hole).
		for k := 1; k <= 3; k++ {
			frame = tcpFrame(t, src, dst, sport, 80, 1001+uint32(k)*1400, false, payload)
			ci.CaptureLength, ci.Length = len(frame), len(frame)
			e.Packet(layers.LinkTypeEthernet, frame, ci)
		}
		if i%1000 == 999 {
			p := e.reassemblyPages(t)
			maxPages = max(maxPages, p)
			if p > pagesTotal {
				t.Fatalf("after %d connections: %d pages buffered, cap %d", i+1, p, pagesTotal)
			}
		}
	}
	heap := heapInuse() - min(base, heapInuse())
	t.Logf("%d open connections: %d pages buffered at most, heap in use %.1f MB (bound %d MB)",
		conns, maxPages, float64(heap)/(1<<20), heapBound>>20)
	if heap > heapBound {
		t.Errorf("heap in use %d MB exceeds the %d MB bound", heap>>20, heapBound>>20)
	}
	if maxPages == 0 {
		t.Error("nothing was buffered: the test does not exercise the caps")
	}
	if st := e.Stats(); st.TCPGaps == 0 {
		t.Error("the caps forced no gap skipping")
	}

	// Packet time moves past the TCP idle timeout: everything is flushed.
	e.Flush(start.Add(time.Duration(conns)*time.Millisecond + cfg.TCPIdleTimeout + time.Minute))
	if sink.sessions[EndIdle] != conns {
		t.Errorf("%d sessions ended idle, want %d (%v)", sink.sessions[EndIdle], conns, sink.sessions)
	}
	if p := e.reassemblyPages(t); p != 0 {
		t.Errorf("%d pages still buffered after the idle flush", p)
	}
	if n := e.sessions.len(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	e.Close()
}
