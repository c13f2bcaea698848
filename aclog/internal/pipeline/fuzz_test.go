package pipeline

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/aclog/internal/capture"
)

// FuzzShards feeds arbitrary frames (a blob cut by 2-byte length prefixes)
// through four engines sharing them and two lanes, with epochs, flushes and a restart on
// the way: nothing may panic or hang, and every packet is counted once.
func FuzzShards(f *testing.F) {
	for _, file := range []string{"http/get.pcap", "dns/ipv6-fragmented-dns.pcap", "ftp/ipv4.pcap", "smtp/smtp.pcap"} {
		src, err := capture.OpenFile("../../testdata/pcaps/" + file)
		if err != nil {
			f.Fatal(err)
		}
		var blob []byte
		for {
			data, _, err := src.ReadPacket()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Fatal(err)
			}
			blob = binary.BigEndian.AppendUint16(blob, uint16(len(data)))
			blob = append(blob, data...)
		}
		src.Close()
		f.Add(blob, uint8(1))
	}
	f.Fuzz(func(t *testing.T, blob []byte, lt uint8) {
		s, err := newShards(audit.DefaultConfig(), 4, []audit.Sink{newCollector(1), newCollector(1)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := time.Unix(1_700_000_000, 0)
		n := uint64(0)
		for len(blob) >= 2 {
			l := min(int(binary.BigEndian.Uint16(blob)), len(blob)-2)
			frame := blob[2 : 2+l]
			blob = blob[2+l:]
			ts = ts.Add(time.Duration(l) * time.Millisecond)
			s.Packet(layers.LinkType(lt%2*1+lt/2%2*101), frame, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)})
			n++
			switch n % 97 {
			case 13:
				s.Epoch(ts, func(int, time.Time) {}, func(time.Time) {})
			case 50:
				s.Flush(ts)
			case 96:
				s.Restart(ts.Add(-time.Hour))
			}
		}
		s.Close()
		if st := s.Stats(); st.Packets != n {
			t.Fatalf("%d packets counted by the engines, %d given", st.Packets, n)
		}
	})
}
