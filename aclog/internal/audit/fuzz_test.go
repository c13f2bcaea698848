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

// maxSeed bounds a seed blob. The fuzzer minimizes every input that finds
// new coverage, one cut at a time (up to a minute each by default), before
// it fuzzes on: whole captures as seeds (30-40 KB) kept it minimizing at a
// dozen execs, and 2 KB seeds still for most of a 30 s run. Captures are
// cut into seeds of a few short frames instead.
const maxSeed = 512

// FuzzEngine feeds arbitrary frames (a blob cut by 2-byte length prefixes)
// through the whole engine: decoding, defragmentation, sessions,
// reassembly and every parser. Nothing may panic, and the stats must add up.
// The sharded engines (-workers) are fuzzed by the pipeline's FuzzShards.
func FuzzEngine(f *testing.F) {
	for _, file := range []string{"http/get.pcap", "dns/ipv6-fragmented-dns.pcap", "tls/tls-split-client-hello.pcap", "dns/dns-tcp.pcap",
		"smtp/smtp.pcap", "ftp/ipv4.pcap", "imap/imap.pcap", "pop3/pop3.pcap", "http/multipart-form-data.pcap"} {
		for _, seed := range seeds(f, pcap(file), 4) {
			f.Add(seed, uint8(layers.LinkTypeEthernet))
		}
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

// seeds cuts the first packets of a capture into at most n blobs of
// length-prefixed frames, each under maxSeed bytes (a frame longer than
// that is cut short, as a small snaplen would).
func seeds(f *testing.F, path string, n int) [][]byte {
	src, err := capture.OpenFile(path)
	if err != nil {
		f.Fatal(err)
	}
	defer src.Close()
	var out [][]byte
	var blob []byte
	for len(out) < n {
		data, _, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Fatal(err)
		}
		data = data[:min(len(data), maxSeed/4)]
		if len(blob)+2+len(data) > maxSeed {
			out = append(out, blob)
			blob = nil
		}
		blob = binary.BigEndian.AppendUint16(blob, uint16(len(data)))
		blob = append(blob, data...)
	}
	if len(blob) > 0 && len(out) < n {
		out = append(out, blob)
	}
	return out
}
