package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
)

const pcapRoot = "../../testdata/pcaps"

// readAll reads a source to its end and returns the packet count and the
// final error (nil for a clean end).
func readAll(t testing.TB, src Source) (int, error) {
	t.Helper()
	n := 0
	for {
		_, _, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func TestOpenFiles(t *testing.T) {
	// Packet counts and link types from the captures' README (tshark).
	tests := []struct {
		file     string
		packets  int
		linkType layers.LinkType
	}{
		{"http/get.pcap", 14, layers.LinkTypeEthernet},
		{"http/methods.pcap", 655, layers.LinkTypeEthernet},
		{"http/basic-auth-with-colon.pcap", 12, layers.LinkTypeIPv4},
		{"http/cooper-grill-dvwa.pcapng", 64, layers.LinkTypeEthernet},
		{"tls/tls-alpn-h2.pcap", 9, layers.LinkTypeNull},
		{"dns/ipv6-fragmented-dns.pcap", 8, layers.LinkTypeEthernet},
		{"mixed/tls-subjectaltname_input.pcap", 3138, layers.LinkTypeEthernet},
	}
	for _, tt := range tests {
		src, err := OpenFile(filepath.Join(pcapRoot, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		n, err := readAll(t, src)
		if err != nil || n != tt.packets {
			t.Errorf("%s: %d packets, err %v; want %d", tt.file, n, err, tt.packets)
		}
		if src.LinkType() != tt.linkType {
			t.Errorf("%s: link type %v, want %v", tt.file, src.LinkType(), tt.linkType)
		}
		if st := src.Stats(); st.Packets != uint64(tt.packets) || st.HasKernel {
			t.Errorf("%s: stats %+v", tt.file, st)
		}
		src.Close()
	}
}

func TestFirstPacket(t *testing.T) {
	src, err := OpenFile(filepath.Join(pcapRoot, "http/get.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	data, ci, err := src.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	// tshark: frame 1 epoch 1362692526.869344000, 78 bytes.
	if want := time.Unix(1362692526, 869344000).UTC(); !ci.Timestamp.Equal(want) {
		t.Errorf("timestamp %v, want %v", ci.Timestamp, want)
	}
	if ci.Length != 78 || ci.CaptureLength != 78 || len(data) != 78 {
		t.Errorf("lengths %d/%d/%d, want 78", ci.Length, ci.CaptureLength, len(data))
	}
}

func TestTruncated(t *testing.T) {
	for _, file := range []string{"http/get.pcap", "http/cooper-grill-dvwa.pcapng"} {
		full, err := os.ReadFile(filepath.Join(pcapRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		src, err := NewReader(file, bytes.NewReader(full))
		if err != nil {
			t.Fatal(err)
		}
		total, err := readAll(t, src)
		if err != nil {
			t.Fatal(err)
		}
		// Cut at many places: every complete packet before the cut is
		// delivered, then a TruncatedError.
		for cut := len(full) - 1; cut > len(full)/2; cut -= 97 {
			src, err := NewReader(file, bytes.NewReader(full[:cut]))
			if err != nil {
				t.Fatal(err)
			}
			n, err := readAll(t, src)
			var te *TruncatedError
			if err == nil {
				// The cut fell exactly on a record boundary.
				if n >= total {
					t.Errorf("%s cut at %d: %d packets and no error", file, cut, n)
				}
				continue
			}
			if !errors.Is(err, ErrTruncated) || !errors.As(err, &te) {
				t.Fatalf("%s cut at %d: error %v, want a TruncatedError", file, cut, err)
			}
			// A cut after the last packet (in a statistics block) still
			// reports the truncation, with every packet delivered.
			if te.Packets != uint64(n) || n > total || te.Offset >= int64(cut) {
				t.Errorf("%s cut at %d: %d packets delivered, error says %d at %d (of %d)", file, cut, n, te.Packets, te.Offset, total)
			}
			// The error is sticky.
			if _, _, err2 := src.ReadPacket(); !errors.Is(err2, ErrTruncated) {
				t.Errorf("second read after truncation: %v", err2)
			}
		}
	}
}

func TestGarbage(t *testing.T) {
	pcapHeader := func() []byte {
		b := make([]byte, 24)
		binary.LittleEndian.PutUint32(b[0:], magicMicro)
		binary.LittleEndian.PutUint16(b[4:], 2)
		binary.LittleEndian.PutUint16(b[6:], 4)
		binary.LittleEndian.PutUint32(b[16:], 65535)
		binary.LittleEndian.PutUint32(b[20:], 1)
		return b
	}
	hugeRecord := append(pcapHeader(), make([]byte, 16)...)
	binary.LittleEndian.PutUint32(hugeRecord[24+8:], 0xfffffff0) // caplen
	tests := []struct {
		name string
		data []byte
		open bool // the header is fine; the error comes from ReadPacket
	}{
		{"empty", nil, false},
		{"short", []byte{0xd4, 0xc3}, false},
		{"text", []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), false},
		{"bad version", func() []byte { b := pcapHeader(); b[4] = 9; return b }(), false},
		{"huge caplen", hugeRecord, true},
		{"pcapng bad bom", []byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0}, false},
		{"pcapng huge block", []byte{0x0a, 0x0d, 0x0d, 0x0a, 0xf0, 0xff, 0xff, 0x7f, 0x4d, 0x3c, 0x2b, 0x1a}, false},
	}
	for _, tt := range tests {
		src, err := NewReader(tt.name, bytes.NewReader(tt.data))
		if !tt.open {
			if err == nil || !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) {
				t.Errorf("%s: open error %v, want a format error", tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if _, err := readAll(t, src); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: read error %v, want a format error", tt.name, err)
		}
	}
}

// ngBlock builds a little-endian pcapng block.
func ngBlock(typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, n)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, n)
}

func TestPcapngInterfaces(t *testing.T) {
	shb := ngBlock(blockSHB, []byte{0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	// Interface 0: Ethernet, default microseconds. Interface 1: raw IP with
	// if_tsresol = 9 (nanoseconds).
	idb0 := ngBlock(blockIDB, []byte{1, 0, 0, 0, 0xff, 0xff, 0, 0})
	idb1 := ngBlock(blockIDB, []byte{101, 0, 0, 0, 0xff, 0xff, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0})
	epb := func(iface uint32, ts uint64, data []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, iface)
		b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
		b = binary.LittleEndian.AppendUint32(b, uint32(ts))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)+100))
		return ngBlock(blockEPB, append(b, data...))
	}
	isb := ngBlock(5, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	var file []byte
	for _, b := range [][]byte{shb, idb0, idb1, epb(0, 1_500_000_250_000, []byte("eth")), isb, epb(1, 1_500_000_250_000_123, []byte("raw packet"))} {
		file = append(file, b...)
	}
	src, err := NewReader("multi", bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if src.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("link type before the first packet: %v", src.LinkType())
	}
	data, ci, err := src.ReadPacket()
	if err != nil || string(data) != "eth" || src.LinkType() != layers.LinkTypeEthernet ||
		!ci.Timestamp.Equal(time.Unix(1_500_000, 250_000_000)) || ci.Length != 103 || ci.InterfaceIndex != 0 {
		t.Errorf("packet 1: %q %+v %v %v", data, ci, src.LinkType(), err)
	}
	data, ci, err = src.ReadPacket()
	if err != nil || string(data) != "raw packet" || src.LinkType() != layers.LinkTypeRaw ||
		!ci.Timestamp.Equal(time.Unix(1_500_000, 250_000_123)) || ci.InterfaceIndex != 1 {
		t.Errorf("packet 2: %q %+v %v %v", data, ci, src.LinkType(), err)
	}
	if _, _, err := src.ReadPacket(); !errors.Is(err, io.EOF) {
		t.Errorf("end: %v", err)
	}
}

func TestBinaryTimestampResolution(t *testing.T) {
	in := ngInterface{binary: true, exp: 10}
	// 3.5 s in units of 2^-10 s.
	if got := in.timestamp(3*1024 + 512); !got.Equal(time.Unix(3, 500_000_000)) {
		t.Errorf("got %v", got)
	}
}

// FuzzReader: no input may panic or allocate beyond the bounds, and every
// error must be typed or an io error.
func FuzzReader(f *testing.F) {
	for _, file := range []string{"http/get.pcap", "http/cooper-grill-dvwa.pcapng", "tls/tls-alpn-h2.pcap"} {
		b, err := os.ReadFile(filepath.Join(pcapRoot, file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 4096)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := NewReader("fuzz", bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("open: untyped error %v", err)
			}
			return
		}
		for range 10000 {
			pkt, ci, err := src.ReadPacket()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) {
					t.Fatalf("read: untyped error %v", err)
				}
				return
			}
			if len(pkt) != ci.CaptureLength || len(pkt) > maxPacket || ci.Length < ci.CaptureLength {
				t.Fatalf("inconsistent packet: %d bytes, %+v", len(pkt), ci)
			}
		}
	})
}
