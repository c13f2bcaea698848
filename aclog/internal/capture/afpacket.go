//go:build linux && cgo

package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
	"golang.org/x/sys/unix"

	"github.com/acstore/acstore/aclog/internal/flowhash"
)

// afSource reads an interface through AF_PACKET TPACKET_V3 rings, one
// socket per reader in a fanout group. The kernel shares packets among
// the sockets by flowhash (a classic BPF fanout program), as the pipeline
// shares them among workers: every packet between two addresses,
// fragments included, goes through one socket, in order. Rings are
// memory shared with the kernel: no system call per packet, and a ring
// per socket multiplies the room for bursts.
//
// ReadPacket reads the rings itself, a block at a time, round the sockets
// (a ring's packets are returned where they lie; see ring). An earlier
// version read each ring on a goroutine of its own through gopacket's
// afpacket, copying packets into batches handed over on a channel: the
// copy, the hand-over and the wake-ups (a futex each way, a sleeping
// reader polled by the runtime) cost more than aclog's own work on short
// packets: 0.3 µs of the 1.5 µs per packet over aclog -r of the same
// capture.
type afSource struct {
	iface   string
	rings   []*ring
	at      int             // the ring being read
	ep      *os.File        // an epoll instance watching the rings, itself watched by Go's netpoller
	epfd    int             // ep's descriptor (ep.Fd would make it blocking)
	epConn  syscall.RawConn // of ep
	timeout time.Duration
	promisc int // a socket holding the interface promiscuous; -1 without

	stats            Stats
	kernel, kdropped uint64 // the sockets' counters so far (the kernel resets them at each read)
	ifDrop0          uint64 // the interface's rx_dropped when the capture began
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
	size := afRingSize(cfg, sockets)
	prog, err := compileFilter(cfg)
	if err != nil {
		return nil, err
	}
	s := &afSource{iface: cfg.Interface, promisc: -1, timeout: cfg.Timeout}
	fail := func(err error) (Source, error) {
		s.Close()
		return nil, fmt.Errorf("capture %s: %w", cfg.Interface, err)
	}
	if cfg.Promisc {
		if s.promisc, err = holdPromisc(ifi.Index); err != nil {
			return fail(fmt.Errorf("promiscuous mode: %w", err))
		}
	}
	if err := s.openEpoll(); err != nil {
		return fail(err)
	}
	if err := s.openRings(cfg, ifi.Index, sockets, size, prog); err != nil {
		return fail(err)
	}
	s.ifDrop0 = ifDropped(cfg.Interface)
	return s, nil
}

// ringSize is the geometry of each socket's ring.
type ringSize struct{ frame, block, blocks int }

// afRingSize shares cfg.BufferSize among sockets rings.
func afRingSize(cfg LiveConfig, sockets int) ringSize {
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
	return ringSize{frame: frame, block: block, blocks: blocks}
}

// compileFilter compiles cfg.Filter for the kernel; nil when there is none.
func compileFilter(cfg LiveConfig) ([]unix.SockFilter, error) {
	var prog []unix.SockFilter
	if cfg.Filter != "" {
		ins, err := pcap.CompileBPFFilter(layers.LinkTypeEthernet, cfg.Snaplen, cfg.Filter)
		if err != nil {
			return nil, fmt.Errorf("capture %s: filter %q: %w", cfg.Interface, cfg.Filter, err)
		}
		for _, in := range ins {
			prog = append(prog, unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K})
		}
	}
	return prog, nil
}

// openRings opens the sockets' rings on interface ifindex, each filtered
// by prog, watched by s's epoll and, past one, in one fanout group.
func (s *afSource) openRings(cfg LiveConfig, ifindex, sockets int, size ringSize, prog []unix.SockFilter) error {
	group := uint16(os.Getpid() & 0xffff)
	for range sockets {
		r, err := newRing(size.frame, size.block, size.blocks, afBlockTimeout)
		if err != nil {
			return err
		}
		s.rings = append(s.rings, r)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLERR, Fd: int32(r.fd)}
		if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, r.fd, &ev); err != nil {
			return fmt.Errorf("watching a packet socket: %w", err)
		}
		// The filter goes on before the socket is bound: it receives
		// nothing that has not passed it.
		if prog != nil {
			if err := setFilter(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, prog); err != nil {
				return fmt.Errorf("filter %q: %w", cfg.Filter, err)
			}
		}
		if err := r.bind(ifindex); err != nil {
			return fmt.Errorf("binding a packet socket: %w", err)
		}
		if sockets > 1 {
			if err := joinFanout(r.fd, group, len(s.rings) == 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// Ring geometry: see OpenAFPacket.
const (
	afBlockBytes   = 256 << 10
	afBlockTimeout = 50 * time.Millisecond
)

// joinFanout adds socket fd to fanout group id, sharing packets by
// flowhash; the first socket of the group sets the program.
func joinFanout(fd int, id uint16, first bool) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, unix.PACKET_FANOUT_CBPF<<16|int(id)); err != nil {
		return fmt.Errorf("fanout group (PACKET_FANOUT_CBPF needs Linux 4.3 or later): %w", err)
	}
	if !first {
		return nil
	}
	prog, err := flowhash.Program()
	if err != nil {
		return err
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		filter[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	if err := setFilter(fd, unix.SOL_PACKET, unix.PACKET_FANOUT_DATA, filter); err != nil {
		return fmt.Errorf("fanout program: %w", err)
	}
	return nil
}

func setFilter(fd, level, opt int, prog []unix.SockFilter) error {
	return unix.SetsockoptSockFprog(fd, level, opt, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
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

// ReadPacket returns the next packet of the block being read; at a
// block's end it gives the block back and takes the next ring's block the
// kernel has handed over, and when none has, waits for one (for the read
// timeout at most). The block a packet lies in is given back
// only at the next call: the packet stays valid until then.
func (s *afSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	for {
		r := s.rings[s.at]
		if r.left > 0 {
			data, ci, err := r.packet()
			if err != nil {
				return nil, ci, fmt.Errorf("capture %s: %w", s.iface, err)
			}
			s.stats.Packets++
			s.stats.Bytes += uint64(len(data))
			return data, ci, nil
		}
		if r.open {
			r.giveBack()
		}
		if !s.take() {
			if err := s.wait(); err != nil {
				return nil, gopacket.CaptureInfo{}, err
			}
		}
	}
}

// take opens the first block handed over, trying the rings round from the
// one after the ring just read, so that a busy socket does not starve the
// others.
func (s *afSource) take() bool {
	for i := 1; i <= len(s.rings); i++ {
		at := (s.at + i) % len(s.rings)
		if s.rings[at].take() {
			s.at = at
			return true
		}
	}
	return false
}

// openEpoll makes the epoll instance that watches the rings. The reader
// waits on it through Go's netpoller, parked like a goroutine reading a
// socket: not in a blocking poll(2), which the runtime's monitor thread
// notices and answers by waking every 20 µs for a while, each wake a
// context switch (half of aclog's on a busy capture, as many again as
// its packets' blocks).
func (s *afSource) openEpoll() error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("epoll: %w", err)
	}
	s.ep, s.epfd = os.NewFile(uintptr(fd), "afpacket rings"), fd
	if err := s.ep.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("epoll: Go's netpoller cannot wait on it: %w", err)
	}
	s.epConn, err = s.ep.SyscallConn()
	return err
}

// wait parks until a ring has a block, which it opens, or the read
// timeout passes (ErrTimeout). The kernel signals a ring's socket each
// time it hands a block over.
func (s *afSource) wait() error {
	if err := s.ep.SetReadDeadline(time.Now().Add(s.timeout)); err != nil {
		return fmt.Errorf("capture %s: %w", s.iface, err)
	}
	err := s.epConn.Read(func(uintptr) bool { return s.take() })
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// Quiet, or the interface is gone: a socket says which.
		for _, r := range s.rings {
			if soErr, err := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soErr != 0 {
				return fmt.Errorf("capture %s: %w", s.iface, unix.Errno(soErr))
			}
		}
		return ErrTimeout
	}
	if err != nil {
		return fmt.Errorf("capture %s: waiting for packets: %w", s.iface, err)
	}
	return nil
}

func (s *afSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// Stats adds the sockets' counters (the kernel's own, reset at each read)
// and the interface's drops since the start.
func (s *afSource) Stats() Stats {
	for _, r := range s.rings {
		received, dropped := r.stats()
		s.kernel += received
		s.kdropped += dropped
	}
	st := s.stats
	st.HasKernel = true
	st.KernelReceived, st.KernelDropped = s.kernel, s.kdropped
	if d := ifDropped(s.iface); d >= s.ifDrop0 {
		st.InterfaceDropped = d - s.ifDrop0
	}
	return st
}

func (s *afSource) Close() error {
	for _, r := range s.rings {
		r.close()
	}
	s.rings = nil
	if s.ep != nil {
		s.ep.Close()
	}
	if s.promisc >= 0 {
		unix.Close(s.promisc)
		s.promisc = -1
	}
	return nil
}
