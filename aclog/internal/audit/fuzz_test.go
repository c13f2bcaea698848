package audit

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/acstore/acstore/aclog/internal/capture"
)

// FuzzEngine feeds arbitrary frames (a blob cut by 2-byte length prefixes)
// through the whole engine: decoding, defragmentation, sessions,
// reassembly and every parser. Nothing may panic, and the stats must add up.
func FuzzEngine(f *testing.F) {
	for _, file := range []string{"http/get.pcap", "dns/ipv6-fragmented-dns.pcap", "tls/tls-split-client-hello.pcap", "dns/dns-tcp.pcap",
		"smtp/smtp.pcap", "ftp/ipv4.pcap", "imap/imap.pcap", "pop3/pop3.pcap", "http/multipart-form-data.pcap"} {
		src, err := capture.OpenFile(pcap(file))
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
		f.Add(blob, uint8(layers.LinkTypeEthernet))
	}
	f.Fuzz(func(t *testing.T, blob []byte, lt uint8) {
		e, err := New(DefaultConfig(), nopSink{})
		if err != nil {
			t.Fatal(err)
		}
		ts := time.Unix(1_700_000_000, 0)
		n := uint64(0)
		for len(blob) >= 2 {
			l := min(int(binary.BigEndian.Uint16(blob)), len(blob)-2)
			frame := blob[2 : 2+l]
			blob = blob[2+l:]
			ts = ts.Add(time.Duration(l) * time.Second) // also exercises timeouts
			e.Packet(layers.LinkType(lt%2*1+lt/2%2*101), frame, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)})
			n++
		}
		e.Close()
		st := e.Stats()
		if st.Packets != n || st.Decoded+st.NonIP+st.OtherIP+st.UnknownLink+st.Malformed+st.Fragments < n {
			t.Fatalf("stats do not add up for %d packets: %+v", n, st)
		}
	})
}
