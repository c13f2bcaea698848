package capture

import (
	"encoding/binary"
	"io"
	"math/bits"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// pcapng block types (draft-ietf-opsawg-pcapng).
const (
	blockSHB = 0x0a0d0d0a
	blockIDB = 1
	blockOPB = 2 // obsolete Packet Block, still written by old tools
	blockSPB = 3
	blockEPB = 6
)

// ngInterface is what an Interface Description Block tells us.
type ngInterface struct {
	linkType layers.LinkType
	snaplen  uint32
	// Timestamps are counted in units of 10^-exp (binary false) or
	// 2^-exp (binary true) seconds, plus offset seconds.
	exp    uint8
	binary bool
	offset int64
}

// ngReader reads pcapng files: several sections, several interfaces of
// different link types.
type ngReader struct {
	cr       *countingReader
	closer   io.Closer
	order    binary.ByteOrder
	ifaces   []ngInterface
	linkType layers.LinkType
	hdr      [8]byte
	block    []byte
	stats    Stats
	err      error
}

func newNgReader(cr *countingReader, closer io.Closer) (*ngReader, error) {
	r := &ngReader{cr: cr, closer: closer, order: binary.LittleEndian, block: make([]byte, 0, 4096)}
	// Read up to the first packet-independent information: the section
	// header and, usually, the first interface, so LinkType is known early.
	typ, body, start, err := r.readBlock()
	if err != nil {
		return nil, err
	}
	if typ != blockSHB {
		return nil, cr.formatError(start, "pcapng file does not start with a section header")
	}
	if err := r.section(body, start); err != nil {
		return nil, err
	}
	if next, err := cr.r.Peek(8); err == nil && r.order.Uint32(next[0:4]) == blockIDB {
		_, body, start, err := r.readBlock()
		if err != nil {
			return nil, err
		}
		if err := r.iface(body, start); err != nil {
			return nil, err
		}
		r.linkType = r.ifaces[0].linkType
	}
	return r, nil
}

// readBlock reads one whole block and returns its type and body (without the
// 8-byte header and the trailing length). body is valid until the next call.
func (r *ngReader) readBlock() (typ uint32, body []byte, start int64, err error) {
	start = r.cr.off
	if err := r.cr.readFull(r.hdr[:], start, true); err != nil {
		return 0, nil, start, err
	}
	typ = r.order.Uint32(r.hdr[0:4])
	if typ == blockSHB {
		// A section header may switch byte order; its byte-order magic comes
		// right after the length, so peek at it before trusting the length.
		bom, err := r.cr.r.Peek(4)
		if err != nil {
			return 0, nil, start, &TruncatedError{Path: r.cr.path, Offset: start, Packets: r.cr.packets}
		}
		switch {
		case binary.LittleEndian.Uint32(bom) == 0x1a2b3c4d:
			r.order = binary.LittleEndian
		case binary.BigEndian.Uint32(bom) == 0x1a2b3c4d:
			r.order = binary.BigEndian
		default:
			return 0, nil, start, r.cr.formatError(start, "pcapng section header has a bad byte-order magic %x", bom)
		}
	}
	total := r.order.Uint32(r.hdr[4:8])
	if total < 12 || total%4 != 0 || total > maxBlock {
		return 0, nil, start, r.cr.formatError(start, "pcapng block type %#x has bad length %d", typ, total)
	}
	n := int(total) - 8
	if cap(r.block) < n {
		r.block = make([]byte, n)
	}
	b := r.block[:n]
	if err := r.cr.readFull(b, start, false); err != nil {
		return 0, nil, start, err
	}
	if trail := r.order.Uint32(b[n-4:]); trail != total {
		return 0, nil, start, r.cr.formatError(start, "pcapng block length %d does not match its trailer %d", total, trail)
	}
	return typ, b[:n-4], start, nil
}

func (r *ngReader) section(body []byte, start int64) error {
	if len(body) < 16 {
		return r.cr.formatError(start, "pcapng section header too short")
	}
	if major := r.order.Uint16(body[4:6]); major != 1 {
		return r.cr.formatError(start, "unsupported pcapng version %d", major)
	}
	// Interface ids are per section.
	r.ifaces = r.ifaces[:0]
	return nil
}

func (r *ngReader) iface(body []byte, start int64) error {
	if len(body) < 8 {
		return r.cr.formatError(start, "pcapng interface block too short")
	}
	in := ngInterface{
		linkType: linkType(uint32(r.order.Uint16(body[0:2]))),
		snaplen:  r.order.Uint32(body[4:8]),
		exp:      6,
	}
	opts := body[8:]
	for len(opts) >= 4 {
		code, l := r.order.Uint16(opts[0:2]), int(r.order.Uint16(opts[2:4]))
		if code == 0 {
			break
		}
		padded := (l + 3) &^ 3
		if 4+padded > len(opts) {
			return r.cr.formatError(start, "pcapng interface option %d overruns its block", code)
		}
		v := opts[4 : 4+l]
		switch {
		case code == 9 && l >= 1: // if_tsresol
			in.binary = v[0]&0x80 != 0
			in.exp = v[0] & 0x7f
			if (in.binary && in.exp > 63) || (!in.binary && in.exp > 18) {
				return r.cr.formatError(start, "pcapng interface timestamp resolution %#x unsupported", v[0])
			}
		case code == 14 && l >= 8: // if_tsoffset, seconds
			in.offset = int64(r.order.Uint64(v))
		}
		opts = opts[4+padded:]
	}
	r.ifaces = append(r.ifaces, in)
	return nil
}

// timestamp converts a 64-bit pcapng timestamp in the interface's units.
func (in *ngInterface) timestamp(ts uint64) time.Time {
	var sec, nsec uint64
	if in.binary {
		sec = ts >> in.exp
		frac := ts & (1<<in.exp - 1)
		// frac < 2^exp, so frac*1e9 >> exp < 1e9 fits in the low word.
		hi, lo := bits.Mul64(frac, 1e9)
		nsec = lo>>in.exp | hi<<(64-in.exp)
	} else {
		unit := uint64(1)
		for range in.exp {
			unit *= 10
		}
		sec = ts / unit
		frac := ts % unit
		if in.exp <= 9 {
			for range 9 - in.exp {
				frac *= 10
			}
		} else {
			for range in.exp - 9 {
				frac /= 10
			}
		}
		nsec = frac
	}
	return time.Unix(int64(sec)+in.offset, int64(nsec)).UTC()
}

func (r *ngReader) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	if r.err != nil {
		return nil, gopacket.CaptureInfo{}, r.err
	}
	data, ci, err := r.read()
	if err != nil {
		r.err = err
		return nil, gopacket.CaptureInfo{}, err
	}
	r.stats.Packets++
	r.stats.Bytes += uint64(len(data))
	r.cr.packets++
	return data, ci, nil
}

func (r *ngReader) read() ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	for {
		typ, body, start, err := r.readBlock()
		if err != nil {
			return nil, ci, err
		}
		switch typ {
		case blockSHB:
			if err := r.section(body, start); err != nil {
				return nil, ci, err
			}
		case blockIDB:
			if err := r.iface(body, start); err != nil {
				return nil, ci, err
			}
		case blockEPB, blockOPB:
			return r.packet(typ, body, start)
		case blockSPB:
			return r.simplePacket(body, start)
		default:
			// Statistics, name resolution, custom blocks: not needed.
		}
	}
}

// packet reads an enhanced (or obsolete) packet block of type typ.
func (r *ngReader) packet(typ uint32, body []byte, start int64) ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	if len(body) < 20 {
		return nil, ci, r.cr.formatError(start, "pcapng packet block too short")
	}
	var id int
	if typ == blockEPB {
		id = int(r.order.Uint32(body[0:4]))
	} else {
		id = int(r.order.Uint16(body[0:2]))
	}
	if id >= len(r.ifaces) {
		return nil, ci, r.cr.formatError(start, "pcapng packet names interface %d, but the section has %d", id, len(r.ifaces))
	}
	in := &r.ifaces[id]
	ts := uint64(r.order.Uint32(body[4:8]))<<32 | uint64(r.order.Uint32(body[8:12]))
	caplen := r.order.Uint32(body[12:16])
	origlen := r.order.Uint32(body[16:20])
	if uint64(caplen) > uint64(len(body)-20) {
		return nil, ci, r.cr.formatError(start, "pcapng packet capture length %d overruns its block", caplen)
	}
	ci.Timestamp = in.timestamp(ts)
	ci.CaptureLength = int(caplen)
	ci.Length = int(max(origlen, caplen))
	ci.InterfaceIndex = id
	r.linkType = in.linkType
	return body[20 : 20+caplen], ci, nil
}

// simplePacket reads a simple packet block, of the section's first
// interface.
func (r *ngReader) simplePacket(body []byte, start int64) ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	if len(body) < 4 {
		return nil, ci, r.cr.formatError(start, "pcapng simple packet block too short")
	}
	if len(r.ifaces) == 0 {
		return nil, ci, r.cr.formatError(start, "pcapng simple packet block before any interface")
	}
	in := &r.ifaces[0]
	origlen := r.order.Uint32(body[0:4])
	n := min(uint64(origlen), uint64(len(body)-4))
	if in.snaplen != 0 {
		n = min(n, uint64(in.snaplen))
	}
	// A simple packet block has no timestamp.
	ci.CaptureLength = int(n)
	ci.Length = int(max(uint64(origlen), n))
	r.linkType = in.linkType
	return body[4 : 4+n], ci, nil
}

func (r *ngReader) LinkType() layers.LinkType { return r.linkType }
func (r *ngReader) Stats() Stats              { return r.stats }

func (r *ngReader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}
