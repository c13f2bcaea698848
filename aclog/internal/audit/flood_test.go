package audit

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// TestSYNFlood floods 2,000,000 SYNs from random sources to random ports
// (half-open sessions that never complete) into an engine whose session
// table holds 200,000: the table stays at its cap, every SYN past it is
// counted as untracked (the stats line's "untracked"), and the heap stays
// within 2 KB per tracked session plus 16 MB.
func TestSYNFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("flood")
	}
	const (
		syns = 2_000_000
		cap_ = 200_000
	)
	cfg := DefaultConfig()
	cfg.MaxSessions = cap_
	sink := &countingSink{sessions: map[EndReason]int{}}
	e, err := New(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	base := heapInuse()
	frame := flagFrame(t, net.IPv4(10, 0, 0, 1), net.IPv4(192, 0, 2, 1), 1000, 80, 1, func(t *layers.TCP) { t.SYN = true })
	start := time.Unix(1_700_000_000, 0)
	x := uint32(2463534242)
	for i := range syns {
		// xorshift: random source address, source and destination ports.
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		binary.BigEndian.PutUint32(frame[14+12:], 0x0a000000|x&0xffffff)
		binary.BigEndian.PutUint16(frame[14+20:], uint16(x>>8))
		binary.BigEndian.PutUint16(frame[14+22:], uint16(x>>16)|1)
		at := start.Add(time.Duration(i) * 5 * time.Microsecond) // 200,000 SYNs per second for 10 s
		e.Packet(layers.LinkTypeEthernet, frame, gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(frame), Length: len(frame)})
	}
	heap := heapInuse() - min(base, heapInuse())
	st := e.Stats()
	t.Logf("%d SYNs: %d sessions tracked, %d untracked, heap %.1f MB (%d bytes per tracked session)",
		syns, e.sessions.len(), st.SessionsDropped, float64(heap)/(1<<20), heap/uint64(e.sessions.len()))
	if e.sessions.len() != cap_ {
		t.Errorf("%d sessions tracked, want the cap %d", e.sessions.len(), cap_)
	}
	if got := st.SessionsDropped + uint64(e.sessions.len()); got < syns-1000 || got > syns {
		// A few random tuples repeat and count in their session.
		t.Errorf("untracked %d + tracked %d = %d, want about %d", st.SessionsDropped, e.sessions.len(), got, syns)
	}
	if bound := uint64(cap_*2048 + 16<<20); heap > bound {
		t.Errorf("heap in use %d MB, over the bound %d MB", heap>>20, bound>>20)
	}
	// After the idle timeout the table empties and new sessions are
	// tracked again.
	e.Flush(start.Add(10*time.Second + cfg.TCPIdleTimeout + time.Minute))
	if n := e.sessions.len(); n != 0 || sink.sessions[EndIdle] != cap_ {
		t.Errorf("after the idle timeout: %d sessions left, %d ended idle", n, sink.sessions[EndIdle])
	}
	e.Close()
}
