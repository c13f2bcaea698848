package audit

import (
	"net/netip"
	"slices"
	"time"
)

// fragmentTimeout drops datagrams whose missing fragments never came
// (Linux's ipfrag_time is 30 s).
const fragmentTimeout = 30 * time.Second

// maxDatagram is the largest IP payload a fragment train may build.
const maxDatagram = 65535

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8 // IPv4 only: part of the IPv4 reassembly key
	v6       bool
}

type fragment struct {
	off  int
	data []byte // copied: packet buffers are reused by the reader
}

type datagram struct {
	key        fragKey
	links      links[datagram]
	first      time.Time
	frags      []fragment
	total      int // payload length, known once the last fragment came; -1 before
	proto      uint8
	frames     uint64
	frameBytes uint64
}

// defragmenter rebuilds fragmented IPv4 and IPv6 datagrams. It is written
// here rather than taken from gopacket/ip4defrag because that keeps pointers
// to decoded layers, which the engine reuses for every packet, and has no
// IPv6 counterpart.
type defragmenter struct {
	pending map[fragKey]*datagram
	queue   fifo[datagram, *datagram] // oldest first
	max     int
	buf     []byte // the last reassembled payload; valid until the next add
}

func (d *defragmenter) init(max int) {
	d.pending = make(map[fragKey]*datagram)
	d.max = max
}

// add stores one fragment. When it completes its datagram, add returns the
// payload (valid until the next call), the next protocol, and how many
// frames and frame bytes made it up.
func (d *defragmenter) add(k fragKey, off int, more bool, proto uint8, payload []byte, frameLen uint64, now time.Time) (data []byte, next uint8, frames, frameBytes uint64, done bool) {
	dg := d.pending[k]
	if dg == nil {
		if len(d.pending) >= d.max {
			return nil, 0, 0, 0, false
		}
		dg = &datagram{key: k, first: now, total: -1}
		d.pending[k] = dg
		d.queue.push(dg)
	}
	dg.frames++
	dg.frameBytes += frameLen
	if off+len(payload) > maxDatagram {
		// Impossible datagram (or an attack): forget it.
		d.drop(dg)
		return nil, 0, 0, 0, false
	}
	if off == 0 {
		dg.proto = proto
	}
	if !more {
		dg.total = off + len(payload)
	}
	dg.frags = append(dg.frags, fragment{off: off, data: append([]byte(nil), payload...)})
	if dg.total < 0 {
		return nil, 0, 0, 0, false
	}
	slices.SortFunc(dg.frags, func(a, b fragment) int { return a.off - b.off })
	covered := 0
	for _, f := range dg.frags {
		if f.off > covered {
			return nil, 0, 0, 0, false // a hole remains
		}
		covered = max(covered, f.off+len(f.data))
	}
	if covered < dg.total {
		return nil, 0, 0, 0, false
	}
	if cap(d.buf) < dg.total {
		d.buf = make([]byte, dg.total, maxDatagram)
	}
	d.buf = d.buf[:dg.total]
	for _, f := range dg.frags {
		// Overlaps: the later fragment in offset order wins; a fragment
		// reaching past the end set by the last one is clipped.
		if f.off < dg.total {
			copy(d.buf[f.off:], f.data)
		}
	}
	d.drop(dg)
	return d.buf, dg.proto, dg.frames, dg.frameBytes, true
}

func (dg *datagram) link() *links[datagram] { return &dg.links }

func (d *defragmenter) drop(dg *datagram) {
	delete(d.pending, dg.key)
	d.queue.remove(dg)
}

// expire drops datagrams begun before cutoff and returns how many fragments
// they held. all drops everything.
func (d *defragmenter) expire(cutoff time.Time, all bool) uint64 {
	var n uint64
	for dg := d.queue.front(); dg != nil && (all || dg.first.Before(cutoff)); dg = d.queue.front() {
		n += dg.frames
		d.drop(dg)
	}
	return n
}
