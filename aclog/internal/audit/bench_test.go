package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/acstore/acstore/aclog/internal/capture"
	"github.com/acstore/acstore/internal/pcapgen"
)

type packet struct {
	data []byte
	ci   gopacket.CaptureInfo
}

// generated returns the packets of a generated capture, read into memory so
// the benchmark measures the engine, not the disk.
func generated(b *testing.B, n int) ([]packet, int64) {
	var buf bytes.Buffer
	if _, err := pcapgen.Write(&buf, pcapgen.Config{Seed: 42, Packets: n}); err != nil {
		b.Fatal(err)
	}
	return readAll(b, &buf)
}

// generatedShort returns the packets of a pcapgen short-session capture.
func generatedShort(b *testing.B, sessions int, rate float64) ([]packet, int64) {
	var buf bytes.Buffer
	if _, err := pcapgen.WriteShort(&buf, pcapgen.ShortConfig{Sessions: sessions, Rate: rate}); err != nil {
		b.Fatal(err)
	}
	return readAll(b, &buf)
}

func readAll(b *testing.B, r io.Reader) ([]packet, int64) {
	src, err := capture.NewReader("generated", r)
	if err != nil {
		b.Fatal(err)
	}
	var pkts []packet
	var total int64
	for {
		data, ci, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			return pkts, total
		}
		if err != nil {
			b.Fatal(err)
		}
		pkts = append(pkts, packet{append([]byte(nil), data...), ci})
		total += int64(ci.Length)
	}
}

type nopSink struct{}

func (nopSink) Session(*Session)       {}
func (nopSink) HTTP(*HTTPRequest)      {}
func (nopSink) DNS(*DNSQuery)          {}
func (nopSink) TLS(*TLSHandshake)      {}
func (nopSink) Mail(*Mail)             {}
func (nopSink) Credential(*Credential) {}
func (nopSink) File(*FileTransfer)     {}
func (nopSink) Post(*Post)             {}
func (nopSink) Chat(*Chat)             {}

// BenchmarkEngine runs the whole engine (decode, sessions, reassembly, HTTP,
// DNS and TLS parsing) over a generated capture of 200,000 packets mixing
// HTTP keep-alive, DNS and TLS 1.3 sessions. One op is the whole capture.
func BenchmarkEngine(b *testing.B) {
	pkts, total := generated(b, 200_000)
	runEngine(b, pkts, total)
}

// BenchmarkShort runs the engine over pcapgen's short sessions (8-packet
// HTTP sessions and 2-packet DNS exchanges, 200,000 packets) at 100 and at
// 10,000 sessions per second of capture time: the per-session costs
// (session table, stream state, events) rather than the per-packet ones.
func BenchmarkShort(b *testing.B) {
	for _, rate := range []float64{100, 10000} {
		b.Run(fmt.Sprintf("rate=%.0f", rate), func(b *testing.B) {
			pkts, total := generatedShort(b, 40_000, rate)
			runEngine(b, pkts, total)
		})
	}
}

// runEngine feeds pkts through a fresh engine per op and reports packets/s
// and allocations per packet.
func runEngine(b *testing.B, pkts []packet, total int64) {
	b.SetBytes(total)
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for b.Loop() {
		e, err := New(DefaultConfig(), nopSink{})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pkts {
			e.Packet(layers.LinkTypeEthernet, p.data, p.ci)
		}
		e.Close()
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	runtime.ReadMemStats(&ms1)
	n := float64(b.N) * float64(len(pkts))
	b.ReportMetric(n/b.Elapsed().Seconds(), "packets/s")
	// CPU time (user+sys, all threads, the collector's included) does not
	// count the time other processes took the cores: the figure to
	// compare on a shared machine.
	b.ReportMetric(n/cpu.Seconds(), "packets/cpu-s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/packet")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHotPath is the per-packet cost on an established TCP connection
// carrying a protocol aclog does not parse: decode, session update and
// in-order reassembly. It must not allocate.
func BenchmarkHotPath(b *testing.B) {
	e, err := New(DefaultConfig(), nopSink{})
	if err != nil {
		b.Fatal(err)
	}
	src, dst := net.IPv4(10, 0, 0, 1), net.IPv4(10, 0, 0, 2)
	start := time.Unix(1_700_000_000, 0)
	feed := func(frame []byte, ts time.Time) {
		e.Packet(layers.LinkTypeEthernet, frame, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)})
	}
	feed(tcpFrame(b, src, dst, 40000, 9999, 100, true, nil), start)
	payload := bytes.Repeat([]byte{0xab}, 1400)
	frame := tcpFrame(b, src, dst, 40000, 9999, 101, false, payload)
	feed(frame, start) // decides the stream is not a parsed protocol
	seq := uint32(101 + 1400)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	ts := start
	for b.Loop() {
		binary.BigEndian.PutUint32(frame[14+20+4:], seq) // next in-order segment
		seq += 1400
		ts = ts.Add(time.Microsecond)
		feed(frame, ts)
	}
}

// BenchmarkOpenSessions measures the heap the engine holds per open
// session: 100,000 short sessions start at 10,000 per second and each
// lasts 10 s (pcapgen -short), and the heap is read when the last one has
// started, with about 100,000 sessions open (HTTP ones at every stage,
// DNS ones waiting out the UDP idle timeout).
func BenchmarkOpenSessions(b *testing.B) {
	var buf bytes.Buffer
	if _, err := pcapgen.WriteShort(&buf, pcapgen.ShortConfig{Sessions: 100_000, Rate: 10000, Duration: 10 * time.Second}); err != nil {
		b.Fatal(err)
	}
	pkts, _ := readAll(b, &buf)
	buf = bytes.Buffer{}
	last := pkts[0].ci.Timestamp.Add(10 * time.Second) // the last session starts
	var perSession float64
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		base := heapInuse()
		b.StartTimer()
		e, err := New(DefaultConfig(), nopSink{})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pkts {
			if p.ci.Timestamp.After(last) {
				break
			}
			e.Packet(layers.LinkTypeEthernet, p.data, p.ci)
		}
		b.StopTimer()
		perSession = float64(heapInuse()-min(base, heapInuse())) / float64(e.sessions.len())
		b.ReportMetric(float64(e.sessions.len()), "open-sessions")
		e.Close()
		b.StartTimer()
	}
	b.ReportMetric(perSession, "heap-bytes/open-session")
}
