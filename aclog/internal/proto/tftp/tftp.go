// Package tftp follows TFTP transfers (RFC 1350, with the blksize option of
// RFC 2348) from their datagrams. A read or write request goes to port 69;
// the transfer then runs between the client's endpoint and a new server
// port, in DATA blocks of 512 bytes (or the negotiated blksize), the last
// one shorter. A Tracker follows each transfer by the client's endpoint and
// reports one Transfer when the last block or an ERROR is seen, or when the
// transfer goes quiet.
//
// # Lifecycle
//
// One Tracker serves every UDP datagram of a capture, in capture order:
//
//   - Packet takes one datagram with the capture's clock and reports
//     whether it was TFTP: a request to port 69, or a DATA, ACK, ERROR or
//     OACK of a transfer being followed. The datagram is not kept after
//     Packet returns: the content is copied, up to the Tracker's cap.
//   - A transfer ends, and is passed to the done func once, when its last
//     (short) block or an ERROR arrives, when its client endpoint sends a
//     new request, when it has been quiet for longer than IdleTimeout
//     (Expire), or when Expire is called with all set (the end of the
//     capture, or its clock going back).
//   - Expire(now, false) is cheap to call often: the transfers are looked
//     at only once the oldest could have gone quiet.
//
// The Tracker follows at most MaxTransfers at once; a request past that is
// still TFTP but not followed. Transfers are ended by Expire in the order of
// their client endpoints, so the same capture reports them in the same
// order every run.
package tftp

import (
	"net/netip"
	"time"
)

// Bounds.
const (
	MaxTransfers = 1024             // transfers followed at once
	IdleTimeout  = 30 * time.Second // a transfer quiet this long is reported as it is
)

// Transfer is one file read or written over TFTP.
type Transfer struct {
	Time    time.Time // of the request
	Client  netip.AddrPort
	Server  netip.AddrPort // the request's: port 69
	Command string         // "RRQ" or "WRQ"
	Name    string
	Upload  bool  // WRQ: client to server
	Size    int64 // bytes of the blocks seen, in order
	Content []byte
	// Cut is set when Content is shorter than Size, or the transfer ended
	// with an ERROR or by going quiet instead of with its last block.
	Cut bool
	// ErrorCode is the ERROR packet's code; 0 when none came.
	ErrorCode int
	NoData    bool // no DATA block was seen
}

// transfer is a Transfer being followed.
type transfer struct {
	ev        *Transfer
	next      uint16 // next block expected
	blockSize int
	last      time.Time
}

// Tracker follows the TFTP transfers of one capture.
type Tracker struct {
	flows      map[netip.AddrPort]*transfer // by client endpoint
	check      time.Time                    // no transfer goes quiet before
	maxContent int
	done       func(*Transfer)
}

// NewTracker returns a Tracker that keeps up to maxContent bytes of each
// transfer and passes every ended transfer to done, which owns it from then
// on.
func NewTracker(maxContent int, done func(*Transfer)) *Tracker {
	return &Tracker{maxContent: maxContent, done: done}
}

// Len is the number of transfers being followed. A caller may skip Packet
// for datagrams not sent to port 69 while it is 0.
func (t *Tracker) Len() int { return len(t.flows) }

func (t *Tracker) end(client netip.AddrPort, x *transfer) {
	delete(t.flows, client)
	x.ev.NoData = x.next == 1
	t.done(x.ev)
}
