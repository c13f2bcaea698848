//go:build linux && cgo

package capture

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"golang.org/x/sys/unix"
)

// ring is one AF_PACKET socket's TPACKET_V3 receive ring, mapped into
// aclog's memory. The kernel fills blocks of packets and hands each over
// by setting its status; ReadPacket returns the packets where they lie in
// the block, and hands the block back once the last of them is done with.
// Nothing is copied and nothing waits on another goroutine: the one
// reading the packets reads the rings, and sleeps in poll(2) only when
// every ring is empty.
type ring struct {
	fd     int
	mem    []byte
	block  int // bytes per block
	blocks int
	cur    int  // the block being read, or the next one the kernel hands over
	open   bool // cur is ours: handed over by the kernel, not yet given back
	next   int  // offset in cur of its next packet
	left   int  // packets of cur not yet returned
}

// ETH_P_ALL in network byte order, as bind(2) and socket(2) want it.
var ethPAll = uint16(unix.ETH_P_ALL<<8&0xff00 | unix.ETH_P_ALL>>8)

// newRing opens a packet socket with a ring of blocks blocks of block
// bytes, in frames of frame bytes at most. It receives nothing until
// bind: a filter attached before then applies to every packet.
func newRing(frame, block, blocks int, retire time.Duration) (*ring, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	r := &ring{fd: fd, block: block, blocks: blocks}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		r.close()
		return nil, fmt.Errorf("TPACKET_V3 (Linux 3.2 or later): %w", err)
	}
	req := unix.TpacketReq3{Block_size: uint32(block), Block_nr: uint32(blocks), Frame_size: uint32(frame),
		Frame_nr: uint32(block / frame * blocks), Retire_blk_tov: uint32(retire.Milliseconds())}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		r.close()
		return nil, fmt.Errorf("ring of %d blocks of %d bytes: %w", blocks, block, err)
	}
	if r.mem, err = unix.Mmap(fd, 0, block*blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		r.close()
		return nil, fmt.Errorf("mapping a ring of %d bytes: %w", block*blocks, err)
	}
	return r, nil
}

// bind starts the ring receiving every protocol on interface ifindex.
func (r *ring) bind(ifindex int) error {
	return unix.Bind(r.fd, &unix.SockaddrLinklayer{Protocol: ethPAll, Ifindex: ifindex})
}

func (r *ring) close() {
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
	unix.Close(r.fd)
}

// header is block b's header (after the block descriptor's version and
// private-area offset).
func (r *ring) header(b int) *unix.TpacketHdrV1 {
	desc := (*unix.TpacketBlockDesc)(unsafe.Pointer(&r.mem[b*r.block]))
	return (*unix.TpacketHdrV1)(unsafe.Pointer(&desc.Hdr[0]))
}

// status is the word of block b that says whose it is.
func (r *ring) status(b int) *uint32 { return &r.header(b).Block_status }

// take opens the current block if the kernel has handed it over.
func (r *ring) take() bool {
	if atomic.LoadUint32(r.status(r.cur))&unix.TP_STATUS_USER == 0 {
		return false
	}
	h := r.header(r.cur)
	r.open, r.next, r.left = true, int(h.Offset_to_first_pkt), int(h.Num_pkts)
	return true
}

// giveBack returns the current block to the kernel and moves to the next.
func (r *ring) giveBack() {
	atomic.StoreUint32(r.status(r.cur), unix.TP_STATUS_KERNEL)
	r.open, r.left = false, 0
	r.cur = (r.cur + 1) % r.blocks
}

var errRingLayout = errors.New("a packet header points outside its ring block")

// packet returns the next packet of the open block, where it lies.
func (r *ring) packet() ([]byte, gopacket.CaptureInfo, error) {
	base := r.cur * r.block
	if r.next < 0 || r.next+unix.SizeofTpacket3Hdr > r.block {
		return nil, gopacket.CaptureInfo{}, errRingLayout
	}
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&r.mem[base+r.next]))
	start, n := r.next+int(h.Mac), int(h.Snaplen)
	if start+n > r.block {
		return nil, gopacket.CaptureInfo{}, errRingLayout
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(h.Sec), int64(h.Nsec)), CaptureLength: n, Length: int(h.Len)}
	r.next += int(h.Next_offset)
	r.left--
	return r.mem[base+start : base+start+n : base+start+n], ci, nil
}

// stats reads what the socket received and dropped since the last read
// (the kernel resets them at each).
func (r *ring) stats() (received, dropped uint64) {
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0
	}
	return uint64(st.Packets), uint64(st.Drops)
}
