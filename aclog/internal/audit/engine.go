package audit

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/acstore/acstore/aclog/internal/proto/dns"
	"github.com/acstore/acstore/aclog/internal/proto/ftp"
	"github.com/acstore/acstore/aclog/internal/proto/http"
	"github.com/acstore/acstore/aclog/internal/proto/tftp"
)

// Engine turns packets into events. It is not safe for concurrent use.
type Engine struct {
	cfg   Config
	sink  Sink
	stats Stats

	// Decoding state, reused for every packet.
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	loop    layers.Loopback
	sll     layers.LinuxSLL
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType

	pktTTL    uint8     // IP TTL of the packet being processed
	pktIPLen  uint32    // its IP total length; 0 outside a packet (sweeps, Close)
	now       time.Time // latest packet time seen
	nextSweep time.Time

	sessions    sessionTable
	tcpList     fifo[session, *session] // open TCP sessions, least recently active first
	udpList     fifo[session, *session]
	closedList  fifo[session, *session] // TCP sessions closed by FIN or RST, lingering
	free        []*session              // ended sessions, for reuse
	freeStreams []*tcpStream            // their streams, for reuse
	cur         *session                // session of the packet being processed
	frags       defragmenter
	dnsq        *dns.Tracker[flowKey] // DNS queries waiting for their responses

	gaps        fifo[tcpStream, *tcpStream] // streams with data waiting behind a hole, oldest first
	queuedBytes int                         // bytes those hold

	ftpExpect ftp.Expectations // data connections announced on FTP control connections
	tftp      *tftp.Tracker

	// The events every session yields, reused from one to the next: a
	// sink sees each only during its call (see Sink). Allocating them
	// was a third of what the engine allocated per session.
	evSession Session
	evHTTP    HTTPRequest
	evDNS     DNSQuery
	evTLS     TLSHandshake

	closed bool
}

// New returns an engine that sends events to sink.
func New(cfg Config, sink Sink) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, fmt.Errorf("audit: nil sink")
	}
	e := &Engine{
		cfg:     cfg,
		sink:    sink,
		parsers: make(map[gopacket.LayerType]*gopacket.DecodingLayerParser),
		decoded: make([]gopacket.LayerType, 0, 8),
	}
	e.sessions.init()
	e.frags.init(cfg.MaxFragments)
	e.dnsq = dns.NewTracker[flowKey](cfg.DNSTimeout, e.emitDNS)
	e.tftp = tftp.NewTracker(cfg.MaxFileBytes, e.tftpDone)
	return e, nil
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats { return e.stats }

// parser returns the decoding parser that starts at first, built once.
func (e *Engine) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	p := e.parsers[first]
	if p == nil {
		p = gopacket.NewDecodingLayerParser(first,
			&e.eth, &e.dot1q, &e.loop, &e.sll, &e.ip4, &e.ip6, &e.tcp, &e.udp)
		// Stop quietly at layers we do not decode (ARP, ICMP, IPv6
		// extension headers, fragments); they are handled below.
		p.IgnoreUnsupported = true
		e.parsers[first] = p
	}
	return p
}

// firstLayer maps a link type to the first layer to decode, and strips link
// headers gopacket has no DecodingLayer for.
func firstLayer(lt layers.LinkType, data []byte) (gopacket.LayerType, []byte, bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, data, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, data, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, data, true
	case layers.LinkTypeRaw, 12, 14, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		// Raw IP; 12 and 14 are DLT_RAW on some BSDs.
		if len(data) == 0 {
			return 0, nil, false
		}
		switch data[0] >> 4 {
		case 4:
			return layers.LayerTypeIPv4, data, true
		case 6:
			return layers.LayerTypeIPv6, data, true
		}
	}
	return 0, nil, false
}

// Packet processes one packet captured on a link of type lt. data is not
// retained after the call.
func (e *Engine) Packet(lt layers.LinkType, data []byte, ci gopacket.CaptureInfo) {
	if e.closed {
		return
	}
	e.stats.Packets++
	e.stats.Bytes += uint64(ci.Length)
	// Packet time drives every timeout. A packet stamped a little earlier
	// than one already seen (capture reordering) does not move the clock
	// back; one stamped much earlier starts afresh (see Restart).
	if ci.Timestamp.After(e.now) {
		e.now = ci.Timestamp
	} else if SteppedBack(e.now, ci.Timestamp) {
		e.Restart(ci.Timestamp)
	}
	if e.nextSweep.IsZero() {
		e.nextSweep = e.now.Add(e.cfg.SweepInterval)
	} else if !e.now.Before(e.nextSweep) {
		e.sweep(e.now)
		e.nextSweep = e.now.Add(e.cfg.SweepInterval)
	}

	frameLen := uint64(ci.Length)
	if frameLen == 0 {
		frameLen = uint64(ci.CaptureLength)
	}
	if lt == layers.LinkTypeEthernet && e.ipv4Fast(data, frameLen) {
		return
	}
	first, data, ok := firstLayer(lt, data)
	if !ok {
		if lt == layers.LinkTypeEthernet || lt == layers.LinkTypeRaw || lt == layers.LinkTypeNull {
			e.stats.Malformed++
		} else {
			e.stats.UnknownLink++
		}
		return
	}
	p := e.parser(first)
	if err := p.DecodeLayers(data, &e.decoded); err != nil {
		e.stats.Malformed++
		return
	}
	if p.Truncated {
		e.stats.Truncated++
	}
	var netLayer gopacket.LayerType
	var haveTransport gopacket.LayerType
	for _, t := range e.decoded {
		switch t {
		case layers.LayerTypeIPv4, layers.LayerTypeIPv6:
			netLayer = t
		case layers.LayerTypeTCP, layers.LayerTypeUDP:
			haveTransport = t
		}
	}
	switch netLayer {
	case layers.LayerTypeIPv4:
		e.ipv4(haveTransport, frameLen)
	case layers.LayerTypeIPv6:
		e.ipv6(haveTransport, frameLen)
	default:
		e.stats.NonIP++
	}
}

func (e *Engine) ipv4(transport gopacket.LayerType, frameLen uint64) {
	ip := &e.ip4
	e.pktTTL = ip.TTL
	e.pktIPLen = uint32(ip.Length)
	src := netip.AddrFrom4([4]byte(ip.SrcIP.To4()))
	dst := netip.AddrFrom4([4]byte(ip.DstIP.To4()))
	if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
		e.stats.Fragments++
		k := fragKey{src: src, dst: dst, id: uint32(ip.Id), proto: uint8(ip.Protocol)}
		payload, proto, frames, bytes, done := e.frags.add(k, int(ip.FragOffset)*8, ip.Flags&layers.IPv4MoreFragments != 0,
			uint8(ip.Protocol), ip.Payload, frameLen, e.now)
		if !done {
			return
		}
		e.stats.Reassembled++
		e.transport(src, dst, proto, payload, frames, bytes)
		return
	}
	switch transport {
	case layers.LayerTypeTCP:
		e.stats.Decoded++
		e.tcpPacket(src, dst, 1, frameLen)
	case layers.LayerTypeUDP:
		e.stats.Decoded++
		e.udpPacket(src, dst, 1, frameLen)
	default:
		e.stats.OtherIP++
	}
}

func (e *Engine) ipv6(transport gopacket.LayerType, frameLen uint64) {
	ip := &e.ip6
	e.pktTTL = ip.HopLimit
	e.pktIPLen = 40 + uint32(ip.Length)
	src := netip.AddrFrom16([16]byte(ip.SrcIP.To16()))
	dst := netip.AddrFrom16([16]byte(ip.DstIP.To16()))
	switch transport {
	case layers.LayerTypeTCP:
		e.stats.Decoded++
		e.tcpPacket(src, dst, 1, frameLen)
		return
	case layers.LayerTypeUDP:
		e.stats.Decoded++
		e.udpPacket(src, dst, 1, frameLen)
		return
	}
	// Walk the extension headers gopacket stopped at.
	nh, b := uint8(ip.NextHeader), ip.Payload
	nframes := uint64(1)
	for range 8 {
		switch nh {
		case 6, 17:
			e.transport(src, dst, nh, b, nframes, frameLen)
			return
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 || len(b) < (int(b[1])+1)*8 {
				e.stats.Malformed++
				return
			}
			nh, b = b[0], b[(int(b[1])+1)*8:]
		case 44: // fragment
			if len(b) < 8 {
				e.stats.Malformed++
				return
			}
			off := int(binary.BigEndian.Uint16(b[2:4]) &^ 7)
			more := b[3]&1 != 0
			next := b[0]
			if off == 0 && !more {
				// An atomic fragment (RFC 6946): the whole datagram.
				nh, b = next, b[8:]
				continue
			}
			e.stats.Fragments++
			k := fragKey{src: src, dst: dst, id: binary.BigEndian.Uint32(b[4:8]), v6: true}
			payload, proto, frames, bytes, done := e.frags.add(k, off, more, next, b[8:], frameLen, e.now)
			if !done {
				return
			}
			e.stats.Reassembled++
			// Further extension headers may follow in the reassembled
			// payload; the loop walks them with the fragments' totals.
			nh, b, nframes, frameLen = proto, payload, frames, bytes
		default:
			e.stats.OtherIP++
			return
		}
	}
	e.stats.Malformed++
}

// transport decodes a TCP or UDP header from a payload that did not come
// through the layer parser (reassembled fragments, IPv6 extension headers).
func (e *Engine) transport(src, dst netip.Addr, proto uint8, payload []byte, frames, frameBytes uint64) {
	switch proto {
	case 6:
		if err := e.tcp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			e.stats.Malformed++
			return
		}
		e.stats.Decoded++
		e.tcpPacket(src, dst, frames, frameBytes)
	case 17:
		if err := e.udp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			e.stats.Malformed++
			return
		}
		e.stats.Decoded++
		e.udpPacket(src, dst, frames, frameBytes)
	default:
		e.stats.OtherIP++
	}
}

func (e *Engine) tcpPacket(src, dst netip.Addr, frames, frameBytes uint64) {
	t := &e.tcp
	s, fromClient := e.track(TCP, netip.AddrPortFrom(src, uint16(t.SrcPort)), netip.AddrPortFrom(dst, uint16(t.DstPort)), frames, frameBytes)
	if s == nil {
		return // not tracked (the table is full): not reassembled either
	}
	s.tcpFlags(fromClient, t)
	if s.closed && s.list != listClosed {
		e.touch(s)
	}
	st := s.stream
	if st == nil {
		if s.streamDone || !t.SYN && !t.FIN && !t.RST && len(t.Payload) == 0 {
			return // reassembly is over, or a bare ACK: nothing to reassemble yet
		}
		st = e.newStream(s)
		s.stream = st
	}
	d := 1
	if fromClient {
		d = 0
	}
	e.cur = s
	e.segment(st, d, t)
	e.cur = nil
	if st.finished && s.stream == st {
		// Both directions have ended: reassembly drops whatever else the
		// connection sends, so its stream is free for another session
		// now, not once the session has lingered out (5 s of closed
		// sessions' streams held, and cold when reused).
		s.stream, s.streamDone = nil, true
		e.recycle(st)
	}
}

func (e *Engine) udpPacket(src, dst netip.Addr, frames, frameBytes uint64) {
	u := &e.udp
	s, _ := e.track(UDP, netip.AddrPortFrom(src, uint16(u.SrcPort)), netip.AddrPortFrom(dst, uint16(u.DstPort)), frames, frameBytes)
	srcAP := netip.AddrPortFrom(src, uint16(u.SrcPort))
	dstAP := netip.AddrPortFrom(dst, uint16(u.DstPort))
	if (e.tftp.Len() > 0 || u.DstPort == 69) && e.tftp.Packet(srcAP, dstAP, u.Payload, e.now) {
		if s != nil {
			s.ev.App = appTFTP
		}
		return
	}
	switch {
	case isDNSPort(uint16(u.SrcPort)) || isDNSPort(uint16(u.DstPort)):
		if e.dnsMessage(UDP, srcAP, dstAP, u.Payload) && s != nil {
			s.ev.App = appDNS
		}
	case u.DstPort == 1900:
		// SSDP: HTTP requests over UDP (M-SEARCH, NOTIFY). They are
		// requests like any other to tshark, and they show which devices
		// look for or announce services.
		if tx, ok := http.ParseDatagram(u.Payload, e.now); ok {
			if s != nil {
				s.ev.App = appSSDP
			}
			e.emitHTTP(srcAP, dstAP, tx)
		}
	}
}

// isDNSPort: DNS, mDNS and LLMNR share the DNS wire format.
func isDNSPort(p uint16) bool { return p == 53 || p == 5353 || p == 5355 }
