package capture

import (
	"encoding/binary"
	"io"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// pcapReader reads classic libpcap files (microsecond or nanosecond
// timestamps, either byte order).
type pcapReader struct {
	cr       *countingReader
	closer   io.Closer
	order    binary.ByteOrder
	nano     bool
	snaplen  uint32
	linkType layers.LinkType
	hdr      [16]byte
	stats    Stats
	err      error // sticky: once a file is broken, it stays broken
}

func newPcapReader(cr *countingReader, closer io.Closer) (*pcapReader, error) {
	var h [24]byte
	if err := cr.readFull(h[:], 0, false); err != nil {
		return nil, err
	}
	r := &pcapReader{cr: cr, closer: closer}
	switch m := binary.LittleEndian.Uint32(h[0:4]); m {
	case magicMicro, magicNano:
		r.order = binary.LittleEndian
		r.nano = m == magicNano
	default:
		r.order = binary.BigEndian
		r.nano = binary.BigEndian.Uint32(h[0:4]) == magicNano
	}
	if major := r.order.Uint16(h[4:6]); major != 2 {
		return nil, cr.formatError(4, "unsupported pcap version %d.%d", major, r.order.Uint16(h[6:8]))
	}
	r.snaplen = r.order.Uint32(h[16:20])
	// The upper bits of the link type field carry FCS information
	// (pcap-linktype(7)); only the low 16 bits name the link type.
	r.linkType = linkType(r.order.Uint32(h[20:24]) & 0xffff)
	return r, nil
}

func (r *pcapReader) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
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

func (r *pcapReader) read() ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	start := r.cr.off
	if err := r.cr.readFull(r.hdr[:], start, true); err != nil {
		return nil, ci, err
	}
	sec := r.order.Uint32(r.hdr[0:4])
	frac := r.order.Uint32(r.hdr[4:8])
	caplen := r.order.Uint32(r.hdr[8:12])
	origlen := r.order.Uint32(r.hdr[12:16])
	if caplen > maxPacket {
		return nil, ci, r.cr.formatError(start, "record capture length %d exceeds %d", caplen, maxPacket)
	}
	nsec := int64(frac)
	if !r.nano {
		nsec *= 1000
	}
	if nsec >= 1e9 {
		return nil, ci, r.cr.formatError(start, "record timestamp fraction %d out of range", frac)
	}
	data, err := r.cr.next(int(caplen), start)
	if err != nil {
		return nil, ci, err
	}
	ci.Timestamp = time.Unix(int64(sec), nsec).UTC()
	ci.CaptureLength = int(caplen)
	// Some writers store an original length below the captured one; the
	// captured bytes are real, so trust them.
	ci.Length = int(max(origlen, caplen))
	return data, ci, nil
}

func (r *pcapReader) LinkType() layers.LinkType { return r.linkType }
func (r *pcapReader) Stats() Stats              { return r.stats }

func (r *pcapReader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}
