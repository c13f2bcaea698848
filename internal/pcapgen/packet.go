package pcapgen

import (
	"encoding/binary"
	"fmt"
)

// emit writes one packet of f at g.now.
func (g *generator) emit(f *flow, s seg) error {
	src, dst, sp, dp := f.client, f.server, f.cport, f.sport
	seq, ack := &f.cseq, &f.sseq
	if !s.fromClient {
		src, dst, sp, dp = dst, src, dp, sp
		seq, ack = ack, seq
	}
	b := g.frame[:0]
	b = append(b, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00) // Ethernet
	ipStart := len(b)
	proto := byte(6)
	l4 := 20
	if f.udp {
		proto, l4 = 17, 8
	}
	total := 20 + l4 + len(s.payload)
	g.ipID++
	b = append(b, 0x45, 0, byte(total>>8), byte(total), byte(g.ipID>>8), byte(g.ipID), 0x40, 0, 64, proto, 0, 0)
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	binary.BigEndian.PutUint16(b[ipStart+10:], checksum(b[ipStart:ipStart+20], 0))
	l4Start := len(b)
	if f.udp {
		b = binary.BigEndian.AppendUint16(b, sp)
		b = binary.BigEndian.AppendUint16(b, dp)
		b = binary.BigEndian.AppendUint16(b, uint16(8+len(s.payload)))
		b = append(b, 0, 0)
	} else {
		b = appendTCP(b, sp, dp, seq, ack, s)
	}
	b = append(b, s.payload...)
	// Transport checksum over the pseudo-header.
	pseudo := uint32(0)
	for i := 0; i < 4; i += 2 {
		pseudo += uint32(binary.BigEndian.Uint16(src[i:])) + uint32(binary.BigEndian.Uint16(dst[i:]))
	}
	pseudo += uint32(proto) + uint32(len(b)-l4Start)
	off := l4Start + 16
	if f.udp {
		off = l4Start + 6
	}
	binary.BigEndian.PutUint16(b[off:], checksum(b[l4Start:], pseudo))
	g.frame = b
	return g.write(b)
}

// appendTCP appends the TCP header of segment s (checksum zero) and
// advances the sender's sequence number seq past it.
func appendTCP(b []byte, sp, dp uint16, seq, ack *uint32, s seg) []byte {
	b = binary.BigEndian.AppendUint16(b, sp)
	b = binary.BigEndian.AppendUint16(b, dp)
	b = binary.BigEndian.AppendUint32(b, *seq)
	ackNum := uint32(0)
	if s.flags&flagACK != 0 {
		ackNum = *ack
	}
	b = binary.BigEndian.AppendUint32(b, ackNum)
	b = append(b, 5<<4, s.flags, 0xff, 0xff, 0, 0, 0, 0)
	*seq += uint32(len(s.payload))
	if s.flags&(flagSYN|flagFIN) != 0 {
		*seq++
	}
	return b
}

// write writes frame b as one pcap record stamped g.now.
func (g *generator) write(b []byte) error {
	var rec [16]byte
	us := g.now.UnixMicro()
	binary.LittleEndian.PutUint32(rec[0:], uint32(us/1e6))
	binary.LittleEndian.PutUint32(rec[4:], uint32(us%1e6))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(b)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(b)))
	if _, err := g.w.Write(rec[:]); err != nil {
		return fmt.Errorf("pcapgen: %w", err)
	}
	if _, err := g.w.Write(b); err != nil {
		return fmt.Errorf("pcapgen: %w", err)
	}
	g.stats.Packets++
	g.stats.Bytes += int64(len(b))
	return nil
}

// checksum is the Internet checksum of b plus an initial sum.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
