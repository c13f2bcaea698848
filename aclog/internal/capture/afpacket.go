//go:build linux && cgo

package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/afpacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/acstore/acstore/aclog/internal/flowhash"
)

// afBatchPackets is how many packets a reader hands over at once.
const afBatchPackets = 128

type afBatch struct {
	sock int // the socket it came from, by the order they joined the group
	buf  []byte
	pkts []afPkt
}

type afPkt struct {
	off, n int
	ci     gopacket.CaptureInfo
}

// afSource reads an interface through AF_PACKET TPACKET_V3 rings: one
// socket per reader in a fanout group, each read by a goroutine of its
// own that copies packets out of its ring in batches. The kernel shares
// packets among the sockets by flowhash (a classic BPF fanout program),
// as the pipeline shares them among workers: every packet between two
// addresses, fragments included, goes through one socket, in order.
// Rings are memory shared with the kernel: no system call per packet,
// and a ring per socket multiplies the room for bursts.
type afSource struct {
	iface   string
	tps     []*afpacket.TPacket
	promisc int // a socket holding the interface promiscuous; -1 without
	ch      chan *afBatch
	free    chan *afBatch
	cur     *afBatch
	i       int
	timer   *time.Timer
	timeout time.Duration
	stop    chan struct{}
	halt    sync.Once
	wg      sync.WaitGroup
	err     atomic.Value // first read error

	stats   Stats
	ifDrop0 uint64 // the interface's rx_dropped when the capture began
}

// OpenAFPacket starts capturing on an interface with sockets AF_PACKET
// sockets in one fanout group. cfg.BufferSize is the ring memory of all
// of them together. It needs root or CAP_NET_RAW.
func OpenAFPacket(cfg LiveConfig, sockets int) (Source, error) {
	if cfg.Snaplen <= 0 {
		cfg.Snaplen = maxPacket
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 64 << 20
	}
	sockets = max(1, sockets)
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", cfg.Interface, err)
	}
	// Frames hold a whole snaplen; blocks hold many frames. The kernel
	// hands a block over when it is full or its timeout passes: on a
	// quiet link every block holds a timeout's worth of packets, so many
	// small blocks and a long timeout let the ring ride out a reader that
	// is not scheduled for seconds at any rate.
	frame := 1 << 11
	for frame < min(cfg.Snaplen, 1<<16)+64 {
		frame <<= 1
	}
	block := max(afBlockBytes, frame)
	blocks := max(8, cfg.BufferSize/sockets/block)
	var prog []bpf.RawInstruction
	if cfg.Filter != "" {
		ins, err := pcap.CompileBPFFilter(layers.LinkTypeEthernet, cfg.Snaplen, cfg.Filter)
		if err != nil {
			return nil, fmt.Errorf("capture %s: filter %q: %w", cfg.Interface, cfg.Filter, err)
		}
		for _, in := range ins {
			prog = append(prog, bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K})
		}
	}
	s := &afSource{iface: cfg.Interface, promisc: -1, timeout: cfg.Timeout, stop: make(chan struct{}),
		ch: make(chan *afBatch, 4*sockets), free: make(chan *afBatch, 8*sockets)}
	fail := func(err error) (Source, error) {
		s.Close()
		return nil, fmt.Errorf("capture %s: %w", cfg.Interface, err)
	}
	if cfg.Promisc {
		if s.promisc, err = holdPromisc(ifi.Index); err != nil {
			return fail(fmt.Errorf("promiscuous mode: %w", err))
		}
	}
	group := uint16(os.Getpid() & 0xffff)
	for range sockets {
		tp, err := afpacket.NewTPacket(afpacket.OptInterface(cfg.Interface), afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
			afpacket.OptFrameSize(frame), afpacket.OptBlockSize(block), afpacket.OptNumBlocks(blocks),
			afpacket.OptBlockTimeout(afBlockTimeout), afpacket.OptPollTimeout(50*time.Millisecond))
		if err != nil {
			return fail(fmt.Errorf("AF_PACKET socket (ring of %d blocks of %d bytes): %w", blocks, block, err))
		}
		s.tps = append(s.tps, tp)
		if prog != nil {
			if err := tp.SetBPF(prog); err != nil {
				return fail(fmt.Errorf("filter %q: %w", cfg.Filter, err))
			}
			// The socket was bound before the filter was attached: what
			// its ring took meanwhile did not pass the filter.
			drain(tp)
		}
		if sockets > 1 {
			if err := joinFanout(tp, group, len(s.tps) == 1); err != nil {
				return fail(err)
			}
		}
	}
	s.ifDrop0 = ifDropped(cfg.Interface)
	for range 8 * sockets {
		s.free <- &afBatch{buf: make([]byte, 0, 256<<10), pkts: make([]afPkt, 0, afBatchPackets)}
	}
	for i, tp := range s.tps {
		s.wg.Add(1)
		go s.read(i, tp)
	}
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	return s, nil
}

// Ring geometry: see OpenAFPacket.
const (
	afBlockBytes   = 256 << 10
	afBlockTimeout = 50 * time.Millisecond
)

// joinFanout adds tp to fanout group id, sharing packets by flowhash; the
// first socket of the group sets the program.
func joinFanout(tp *afpacket.TPacket, id uint16, first bool) error {
	if err := tp.SetFanout(afpacket.FanoutCBPF, id); err != nil {
		return fmt.Errorf("fanout group (PACKET_FANOUT_CBPF needs Linux 4.3 or later): %w", err)
	}
	if !first {
		return nil
	}
	prog, err := flowhash.Program()
	if err != nil {
		return err
	}
	fd, err := socketFD(tp)
	if err != nil {
		return err
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		filter[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_PACKET, unix.PACKET_FANOUT_DATA, &fprog); err != nil {
		return fmt.Errorf("fanout program: %w", err)
	}
	return nil
}

// socketFD is the descriptor of tp's socket. gopacket's afpacket (whose
// last release, v1.1.19, is final) can join a PACKET_FANOUT_CBPF group but
// not set its program, and does not export the descriptor that would let
// us do it; reflect reads it (reading an unexported field is allowed, and
// if a gopacket version names it otherwise this fails clearly).
func socketFD(tp *afpacket.TPacket) (int, error) {
	f := reflect.ValueOf(tp).Elem().FieldByName("fd")
	if !f.IsValid() || !f.CanInt() {
		return -1, errors.New("fanout program: gopacket's afpacket.TPacket has no int field fd to set it on")
	}
	return int(f.Int()), nil
}

// drain discards what a ring holds.
func drain(tp *afpacket.TPacket) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if _, _, err := tp.ZeroCopyReadPacketData(); err != nil {
			return
		}
	}
}

// holdPromisc opens a packet socket whose membership keeps the interface
// promiscuous; the kernel counts such memberships and drops this one when
// the socket closes, whatever happens to aclog.
func holdPromisc(ifindex int) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		return -1, err
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// ifDropped reads what the interface itself dropped (its driver's count).
func ifDropped(iface string) uint64 {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", iface, "statistics", "rx_dropped"))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

func (s *afSource) read(sock int, tp *afpacket.TPacket) {
	defer s.wg.Done()
	var b *afBatch
	send := func() {
		if b != nil && len(b.pkts) > 0 {
			s.ch <- b
			b = nil
		}
	}
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		data, ci, err := tp.ZeroCopyReadPacketData()
		switch {
		case errors.Is(err, afpacket.ErrTimeout):
			send()
			continue
		case err != nil:
			s.err.CompareAndSwap(nil, fmt.Errorf("capture %s: %w", s.iface, err))
			send()
			s.halt.Do(func() { close(s.stop) })
			return
		}
		if b == nil {
			select {
			case b = <-s.free:
			case <-s.stop:
				return
			}
			b.sock = sock
		}
		b.pkts = append(b.pkts, afPkt{off: len(b.buf), n: len(data), ci: ci})
		b.buf = append(b.buf, data...)
		if len(b.pkts) == afBatchPackets || len(b.buf) > cap(b.buf)-65536 {
			send()
		}
	}
}

func (s *afSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	for s.cur == nil || s.i == len(s.cur.pkts) {
		if s.cur != nil {
			s.cur.buf, s.cur.pkts = s.cur.buf[:0], s.cur.pkts[:0]
			s.free <- s.cur
			s.cur = nil
		}
		select {
		case b := <-s.ch:
			s.cur, s.i = b, 0
			continue
		default:
		}
		s.timer.Reset(s.timeout)
		select {
		case b := <-s.ch:
			s.timer.Stop()
			s.cur, s.i = b, 0
		case <-s.timer.C:
			if err, _ := s.err.Load().(error); err != nil {
				return nil, gopacket.CaptureInfo{}, err
			}
			return nil, gopacket.CaptureInfo{}, ErrTimeout
		}
	}
	p := s.cur.pkts[s.i]
	s.i++
	s.stats.Packets++
	s.stats.Bytes += uint64(p.n)
	return s.cur.buf[p.off : p.off+p.n], p.ci, nil
}

func (s *afSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// Stats adds the sockets' counters (the kernel's own, reset at each read
// and summed by afpacket) and the interface's drops since the start.
func (s *afSource) Stats() Stats {
	st := s.stats
	st.HasKernel = true
	for _, tp := range s.tps {
		if _, v3, err := tp.SocketStats(); err == nil {
			st.KernelReceived += uint64(v3.Packets())
			st.KernelDropped += uint64(v3.Drops())
		}
	}
	if d := ifDropped(s.iface); d >= s.ifDrop0 {
		st.InterfaceDropped = d - s.ifDrop0
	}
	return st
}

func (s *afSource) Close() error {
	s.halt.Do(func() { close(s.stop) })
	// Readers blocked handing over a batch are let go.
	go func() {
		for range s.ch {
		}
	}()
	s.wg.Wait()
	close(s.ch)
	for _, tp := range s.tps {
		tp.Close()
	}
	if s.promisc >= 0 {
		unix.Close(s.promisc)
	}
	return nil
}
