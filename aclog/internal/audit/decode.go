package audit

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/gopacket/layers"
)

// Most frames are one shape: Ethernet II, an unfragmented IPv4 datagram
// without options, TCP or UDP. fastIPv4 decodes that shape itself instead
// of through gopacket's DecodingLayerParser, whose interface call per
// layer, port-to-layer-type lookups (to find there is no next layer) and
// deferred recover cost a sixth of the engine's time on short sessions.
//
// It takes only frames that gopacket decodes without complaint and
// without truncation, and fills what the engine reads from them as
// gopacket would; anything else (VLAN tags, IP options, fragments, IPv6,
// a header cut short, a length that does not add up, malformed TCP
// options) goes the parser's way as before, so the two paths cannot
// disagree about a frame (TestFastIPv4, FuzzFastIPv4).

// ipv4Fast reports whether it handled an Ethernet frame: decoded it and
// passed it on to tcpPacket or udpPacket. When it reports false, nothing
// has changed.
func (e *Engine) ipv4Fast(data []byte, frameLen uint64) bool {
	src, dst, proto, ok := e.decodeFast(data)
	if !ok {
		return false
	}
	e.stats.Decoded++
	if proto == 6 {
		e.tcpPacket(src, dst, 1, frameLen)
	} else {
		e.udpPacket(src, dst, 1, frameLen)
	}
	return true
}

// decodeFast decodes a frame of the common shape into e.tcp or e.udp and
// the packet's TTL and IP length, and returns its addresses and protocol
// (6 or 17).
func (e *Engine) decodeFast(data []byte) (src, dst netip.Addr, proto uint8, ok bool) {
	if len(data) < 14+20 || binary.BigEndian.Uint16(data[12:14]) != uint16(layers.EthernetTypeIPv4) {
		return src, dst, 0, false
	}
	ip := data[14:]
	length := int(binary.BigEndian.Uint16(ip[2:4]))
	// Version 4 and a 20-byte header; a length of 0 (TSO), shorter than
	// the header, or past the captured bytes (truncated) is the parser's.
	// Bytes past length are Ethernet padding, as gopacket cuts them.
	if ip[0] != 0x45 || length < 20 || length > len(ip) {
		return src, dst, 0, false
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		return src, dst, 0, false // more fragments, or an offset
	}
	payload := ip[20:length]
	switch proto = ip[9]; proto {
	case 6:
		ok = decodeTCP(&e.tcp, payload)
	case 17:
		ok = decodeUDP(&e.udp, payload)
	}
	if !ok {
		return src, dst, 0, false
	}
	e.pktTTL = ip[8]
	e.pktIPLen = uint32(length)
	return netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), proto, true
}

// decodeTCP fills t's header fields and payload from b as
// layers.TCP.DecodeFromBytes does (the options are checked, not kept: the
// engine does not read them), reporting false where that would fail.
func decodeTCP(t *layers.TCP, b []byte) bool {
	if len(b) < 20 {
		return false
	}
	off := int(b[12]>>4) * 4
	if off < 20 || off > len(b) || !tcpOptionsValid(b[20:off]) {
		return false
	}
	t.SrcPort = layers.TCPPort(binary.BigEndian.Uint16(b[0:2]))
	t.DstPort = layers.TCPPort(binary.BigEndian.Uint16(b[2:4]))
	t.Seq = binary.BigEndian.Uint32(b[4:8])
	t.Ack = binary.BigEndian.Uint32(b[8:12])
	t.DataOffset = b[12] >> 4
	f := b[13]
	t.FIN, t.SYN, t.RST, t.PSH = f&0x01 != 0, f&0x02 != 0, f&0x04 != 0, f&0x08 != 0
	t.ACK, t.URG, t.ECE, t.CWR = f&0x10 != 0, f&0x20 != 0, f&0x40 != 0, f&0x80 != 0
	t.NS = b[12]&0x01 != 0
	t.Window = binary.BigEndian.Uint16(b[14:16])
	t.Checksum = binary.BigEndian.Uint16(b[16:18])
	t.Urgent = binary.BigEndian.Uint16(b[18:20])
	t.Options, t.Padding = t.Options[:0], t.Padding[:0]
	t.Contents, t.Payload = b[:off], b[off:]
	return true
}

// tcpOptionsValid walks TCP options as gopacket does and reports whether
// it would accept them.
func tcpOptionsValid(b []byte) bool {
	for len(b) > 0 {
		switch b[0] {
		case 0: // end of options: the rest is padding
			return true
		case 1: // no-op
			b = b[1:]
		default:
			if len(b) < 2 || b[1] < 2 || int(b[1]) > len(b) {
				return false
			}
			b = b[b[1]:]
		}
	}
	return true
}

// decodeUDP fills u from b as layers.UDP.DecodeFromBytes does, reporting
// false where that would fail or flag the datagram truncated.
func decodeUDP(u *layers.UDP, b []byte) bool {
	if len(b) < 8 {
		return false
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	switch {
	case n == 0: // a jumbogram: the rest of the packet
		n = len(b)
	case n < 8 || n > len(b):
		return false
	}
	u.SrcPort = layers.UDPPort(binary.BigEndian.Uint16(b[0:2]))
	u.DstPort = layers.UDPPort(binary.BigEndian.Uint16(b[2:4]))
	u.Length = binary.BigEndian.Uint16(b[4:6])
	u.Checksum = binary.BigEndian.Uint16(b[6:8])
	u.Contents, u.Payload = b[:8], b[8:n]
	return true
}
