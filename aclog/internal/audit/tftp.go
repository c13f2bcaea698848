package audit

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"
)

// TFTP (RFC 1350): a read or write request goes to port 69; the transfer
// then runs between the client's port and a new server port, in DATA
// blocks of 512 bytes (or the negotiated blksize), the last one shorter.
// The engine follows each transfer by the client's endpoint and reports
// one FileTransfer when the last block (or an ERROR) is seen, or when the
// transfer goes quiet.

const (
	maxTFTP         = 1024             // transfers followed at once
	tftpIdleTimeout = 30 * time.Second // a transfer quiet this long is reported as it is
)

type tftpTransfer struct {
	ev        *FileTransfer
	next      uint16 // next block expected
	blockSize int
	last      time.Time
}

// tftpPacket looks at a UDP datagram for TFTP; it reports whether it was.
func (e *Engine) tftpPacket(src, dst netip.AddrPort, b []byte) bool {
	if len(b) < 4 {
		return false
	}
	op := binary.BigEndian.Uint16(b)
	if dst.Port() == 69 && (op == 1 || op == 2) {
		f := bytes.SplitN(b[2:], []byte{0}, 3)
		if len(f) < 3 || len(f[0]) == 0 {
			return false
		}
		if e.tftp == nil {
			e.tftp = make(map[netip.AddrPort]*tftpTransfer)
		}
		if old := e.tftp[src]; old != nil {
			e.endTFTP(src, old)
		}
		if len(e.tftp) >= maxTFTP {
			return true
		}
		cmd := "RRQ"
		if op == 2 {
			cmd = "WRQ"
		}
		if e.tftpCheck.IsZero() {
			e.tftpCheck = e.now.Add(tftpIdleTimeout)
		}
		e.tftp[src] = &tftpTransfer{
			ev:   &FileTransfer{Time: e.now, Client: src, Server: dst, Proto: "tftp", Command: cmd, Name: string(f[0]), Upload: op == 2},
			next: 1, blockSize: 512, last: e.now,
		}
		return true
	}
	// Data and errors flow between the client's endpoint and the server.
	x, client := e.tftp[dst], dst
	if x == nil {
		x, client = e.tftp[src], src
	}
	if x == nil {
		return false
	}
	x.last = e.now
	switch op {
	case 3: // DATA
		block := binary.BigEndian.Uint16(b[2:])
		data := b[4:]
		if block != x.next {
			return true // a retransmission or a block out of order
		}
		x.next++
		ev := x.ev
		ev.Size += int64(len(data))
		if room := e.cfg.MaxFileBytes - len(ev.Content); room > 0 {
			ev.Content = append(ev.Content, data[:min(room, len(data))]...)
		}
		if len(data) > len(ev.Content) || int64(len(ev.Content)) < ev.Size {
			ev.Cut = true
		}
		if len(data) < x.blockSize {
			ev.Reply = 0
			e.endTFTP(client, x)
		}
	case 5: // ERROR
		x.ev.Reply = int(binary.BigEndian.Uint16(b[2:]))
		x.ev.Cut = true
		e.endTFTP(client, x)
	case 6: // OACK: options, blksize among them
		f := bytes.Split(b[2:], []byte{0})
		for i := 0; i+1 < len(f); i += 2 {
			if string(bytes.ToLower(f[i])) == "blksize" {
				n := 0
				for _, c := range f[i+1] {
					if c >= '0' && c <= '9' && n < 1<<20 {
						n = n*10 + int(c-'0')
					}
				}
				if n >= 8 {
					x.blockSize = n
				}
			}
		}
	}
	return true
}

func (e *Engine) endTFTP(client netip.AddrPort, x *tftpTransfer) {
	delete(e.tftp, client)
	x.ev.NoData = x.next == 1
	e.stats.FileRecords++
	e.sink.File(x.ev)
}

// expireTFTP reports transfers quiet since before now-tftpIdleTimeout (all
// when all is set).
func (e *Engine) expireTFTP(now time.Time, all bool) {
	// Transfers are few (at most maxTFTP) and their times only move on:
	// the map is looked at only once the oldest could have gone quiet.
	if len(e.tftp) == 0 || (!all && now.Before(e.tftpCheck)) {
		return
	}
	var done []netip.AddrPort
	e.tftpCheck = time.Time{}
	for k, x := range e.tftp {
		if all || now.Sub(x.last) > tftpIdleTimeout {
			done = append(done, k)
		} else if at := x.last.Add(tftpIdleTimeout); e.tftpCheck.IsZero() || at.Before(e.tftpCheck) {
			e.tftpCheck = at
		}
	}
	// Deterministic order.
	slices.SortFunc(done, func(a, b netip.AddrPort) int { return a.Compare(b) })
	for _, k := range done {
		x := e.tftp[k]
		x.ev.Cut = true
		e.endTFTP(k, x)
	}
}
