package http

import "time"

// Conn parses one TCP connection.
type Conn struct {
	req, resp half
	bodyCap   int
	pending   []*Transaction // requests awaiting a response, oldest first
	emit      func(*Transaction)
	errors    int
	now       time.Time
	// spare is a transaction emitted and no longer parsed into, for the
	// next request (kept by Reset: most connections carry one request).
	spare *Transaction
}

// NewConn returns a parser that calls emit for every finished transaction.
// The Transaction emit receives is valid only during the call: the parser
// reuses it for a later request (a callee that keeps it copies it; its
// strings and RequestBody are never written again and may be kept).
func NewConn(emit func(*Transaction)) *Conn {
	return &Conn{emit: emit}
}

// Reset makes c a parser for a new connection, as NewConn with the same
// emit func would.
func (c *Conn) Reset() {
	clear(c.pending)
	*c = Conn{emit: c.emit, pending: c.pending[:0], spare: c.spare}
}

// newTransaction returns an empty transaction, the spare one if there is
// one.
func (c *Conn) newTransaction() *Transaction {
	tx := c.spare
	if tx == nil {
		return new(Transaction)
	}
	c.spare = nil
	return tx
}

// emitTx emits tx and keeps it as the spare unless a direction still
// parses into it (a response still arriving for a request the pending
// cap pushed out): what it writes there then goes nowhere, as before.
func (c *Conn) emitTx(tx *Transaction) {
	c.emit(tx)
	if c.req.tx != tx && c.resp.tx != tx {
		*tx = Transaction{}
		c.spare = tx
	}
}

// KeepBodies makes the parser keep up to n bytes of each POST or PUT
// request body.
func (c *Conn) KeepBodies(n int) { c.bodyCap = n }

// Errors counts malformed start lines, oversize headers and lost syncs.
func (c *Conn) Errors() int { return c.errors }

// Dead reports whether neither direction can yield more records, so the
// caller may stop feeding data.
func (c *Conn) Dead() bool {
	stop := func(h *half) bool { return h.st == stDead || h.st == stTunnel }
	return stop(&c.req) && stop(&c.resp) && len(c.pending) == 0
}

// Data feeds bytes sent by the client (fromClient) or the server.
func (c *Conn) Data(fromClient bool, data []byte, ts time.Time) {
	c.now = ts
	if fromClient {
		c.feed(&c.req, true, data)
	} else {
		c.feed(&c.resp, false, data)
	}
}

// Gap tells the parser n bytes of one direction were never captured.
func (c *Conn) Gap(fromClient bool, n int) {
	h := &c.resp
	if fromClient {
		h = &c.req
	}
	if h.tx != nil {
		h.tx.Incomplete = true
		if fromClient {
			h.tx.RequestBodyCut = true
		}
	}
	switch h.st {
	case stBody, stChunkData:
		if int64(n) <= h.remaining {
			// Count the missing bytes: they were on the wire.
			c.addBody(h, fromClient, int64(n))
			h.remaining -= int64(n)
			if h.remaining == 0 {
				if h.st == stBody {
					c.done(h, fromClient)
				} else {
					h.st = stChunkEnd
				}
			}
			return
		}
	case stUntilClose:
		c.addBody(h, fromClient, int64(n))
		return
	case stHeader:
		// A header block lost part of itself; start over at the next
		// byte we get, hoping it starts a message.
		h.buf, h.scanned = h.buf[:0], 0
		return
	case stTunnel, stDead:
		return
	}
	c.fail(h, fromClient)
}

// Close ends the connection: a body delimited by the close is complete, and
// every transaction still held is emitted.
func (c *Conn) Close(ts time.Time) {
	c.now = ts
	if c.resp.st == stUntilClose {
		c.done(&c.resp, false)
	}
	// A request whose response already finished but whose own body did
	// not is no longer pending; emit it here.
	if tx := c.req.tx; tx != nil && tx.respDone && !c.isPending(tx) {
		tx.Incomplete = true
		c.emitTx(tx)
	}
	for _, h := range []*half{&c.req, &c.resp} {
		if h.tx != nil {
			h.tx.Incomplete = true
		}
		h.tx = nil
		h.st = stDead
		h.buf = nil
	}
	for _, tx := range c.pending {
		if !tx.placeholder {
			tx.reqDone, tx.respDone = true, true
			c.emitTx(tx)
		}
	}
	clear(c.pending)
	c.pending = c.pending[:0] // kept for Reset
}

func (c *Conn) isPending(tx *Transaction) bool {
	for _, p := range c.pending {
		if p == tx {
			return true
		}
	}
	return false
}

func (c *Conn) fail(h *half, fromClient bool) {
	c.errors++
	h.st = stDead
	h.buf = nil
	if h.tx != nil {
		h.tx.Incomplete = true
		if fromClient {
			h.tx.reqDone = true
			c.maybeEmit(h.tx)
		} else {
			c.finishResponse(h.tx)
		}
		h.tx = nil
	}
}

// done finishes the message in h.
func (c *Conn) done(h *half, fromClient bool) {
	tx := h.tx
	h.tx = nil
	h.st = stHeader
	h.remaining = 0
	if tx == nil {
		return
	}
	if fromClient {
		tx.reqDone = true
		c.maybeEmit(tx)
		return
	}
	c.finishResponse(tx)
}

func (c *Conn) finishResponse(tx *Transaction) {
	tx.respDone = true
	if len(c.pending) > 0 && c.pending[0] == tx {
		c.popPending()
		c.maybeEmit(tx)
	}
}

// popPending takes the oldest pending transaction off the queue. The rest
// move down rather than the slice moving up: a queue cut from the front
// loses its capacity, and each connection's first request allocated it
// again (at most MaxPending pointers move, most often none).
func (c *Conn) popPending() *Transaction {
	tx := c.pending[0]
	n := copy(c.pending, c.pending[1:])
	c.pending[n] = nil
	c.pending = c.pending[:n]
	return tx
}

// maybeEmit emits tx once both of its messages are complete and it is no
// longer waiting in the pending queue.
func (c *Conn) maybeEmit(tx *Transaction) {
	if !tx.reqDone || !tx.respDone || tx.placeholder {
		return
	}
	if !c.isPending(tx) {
		c.emitTx(tx)
	}
}
