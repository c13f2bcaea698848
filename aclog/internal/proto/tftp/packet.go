package tftp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"
)

// Opcodes.
const (
	opRRQ   = 1
	opWRQ   = 2
	opDATA  = 3
	opERROR = 5
	opOACK  = 6
)

// Packet looks at a UDP datagram sent from src to dst at now; it reports
// whether the datagram was TFTP.
func (t *Tracker) Packet(src, dst netip.AddrPort, b []byte, now time.Time) bool {
	if len(b) < 4 {
		return false
	}
	op := binary.BigEndian.Uint16(b)
	if dst.Port() == 69 && (op == opRRQ || op == opWRQ) {
		return t.request(src, dst, op, b, now)
	}
	// Data and errors flow between the client's endpoint and the server.
	x, client := t.flows[dst], dst
	if x == nil {
		x, client = t.flows[src], src
	}
	if x == nil {
		return false
	}
	x.last = now
	switch op {
	case opDATA:
		t.data(client, x, binary.BigEndian.Uint16(b[2:]), b[4:])
	case opERROR:
		x.ev.ErrorCode = int(binary.BigEndian.Uint16(b[2:]))
		x.ev.Cut = true
		t.end(client, x)
	case opOACK:
		if n := blockSize(b[2:]); n >= 8 {
			x.blockSize = n
		}
	}
	return true
}

// request starts following a read or write request; a request the client
// endpoint sends while an earlier one is followed ends the earlier.
func (t *Tracker) request(src, dst netip.AddrPort, op uint16, b []byte, now time.Time) bool {
	f := bytes.SplitN(b[2:], []byte{0}, 3)
	if len(f) < 3 || len(f[0]) == 0 {
		return false
	}
	if t.flows == nil {
		t.flows = make(map[netip.AddrPort]*transfer)
	}
	if old := t.flows[src]; old != nil {
		t.end(src, old)
	}
	if len(t.flows) >= MaxTransfers {
		return true
	}
	cmd := "RRQ"
	if op == opWRQ {
		cmd = "WRQ"
	}
	if t.check.IsZero() {
		t.check = now.Add(IdleTimeout)
	}
	t.flows[src] = &transfer{
		ev:   &Transfer{Time: now, Client: src, Server: dst, Command: cmd, Name: string(f[0]), Upload: op == opWRQ},
		next: 1, blockSize: 512, last: now,
	}
	return true
}

// data takes one DATA block; a block shorter than the block size is the
// last.
func (t *Tracker) data(client netip.AddrPort, x *transfer, block uint16, data []byte) {
	if block != x.next {
		return // a retransmission or a block out of order
	}
	x.next++
	ev := x.ev
	ev.Size += int64(len(data))
	if room := t.maxContent - len(ev.Content); room > 0 {
		ev.Content = append(ev.Content, data[:min(room, len(data))]...)
	}
	if len(data) > len(ev.Content) || int64(len(ev.Content)) < ev.Size {
		ev.Cut = true
	}
	if len(data) < x.blockSize {
		t.end(client, x)
	}
}

// blockSize returns the blksize an OACK's options carry, 0 if none.
func blockSize(opts []byte) int {
	f := bytes.Split(opts, []byte{0})
	size := 0
	for i := 0; i+1 < len(f); i += 2 {
		if string(bytes.ToLower(f[i])) == "blksize" {
			n := 0
			for _, c := range f[i+1] {
				if c >= '0' && c <= '9' && n < 1<<20 {
					n = n*10 + int(c-'0')
				}
			}
			if n >= 8 {
				size = n
			}
		}
	}
	return size
}
