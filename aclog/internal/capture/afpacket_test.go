//go:build linux && cgo

package capture

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
)

// TestAFPacketFilter captures with a BPF filter through two sockets in a
// fanout group: every frame read passed the filter (the filter is on each
// socket before it is bound, so not even the first frames slip through),
// and every frame that passes it is read, once.
func TestAFPacketFilter(t *testing.T) {
	iface, peer := vethPair(t)
	src, err := OpenAFPacket(LiveConfig{Interface: iface, Filter: "ip6", BufferSize: 8 << 20}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	frames := fanoutFrames(t)
	want := map[uint32]bool{}
	for i, f := range frames {
		if layers.EthernetType(binary.BigEndian.Uint16(f[12:])) == layers.EthernetTypeIPv6 {
			want[uint32(i)] = true
		}
	}
	send(t, peer, frames)
	got := map[uint32]int{}
	for deadline := time.Now().Add(10 * time.Second); len(got) < len(want) && time.Now().Before(deadline); {
		data, _, err := src.ReadPacket()
		switch {
		case errors.Is(err, ErrTimeout):
			continue
		case err != nil:
			t.Fatal(err)
		}
		if et := layers.EthernetType(binary.BigEndian.Uint16(data[12:])); et != layers.EthernetTypeIPv6 {
			t.Errorf("a frame of type %v passed the filter ip6: %x", et, data[:min(len(data), 40)])
		}
		if i := strings.Index(string(data), "fanout"); i >= 0 && i+10 <= len(data) {
			got[binary.BigEndian.Uint32(data[i+6:])]++
		}
	}
	for i := range want {
		if got[i] != 1 {
			t.Errorf("frame %d read %d times, want once", i, got[i])
		}
	}
	if len(want) != 128 {
		t.Errorf("%d IPv6 frames sent, want 128", len(want))
	}
}
