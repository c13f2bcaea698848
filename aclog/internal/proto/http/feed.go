package http

import (
	"bytes"
	"strconv"
)

// state is where the parser of one direction is in its message.
type state uint8

const (
	stHeader     state = iota // reading a start line and header fields
	stBody                    // reading remaining bytes of a sized body
	stChunkSize               // reading a chunk-size line
	stChunkData               // reading chunk data
	stChunkEnd                // reading the CRLF after chunk data
	stTrailer                 // reading trailer lines after the last chunk
	stUntilClose              // response body delimited by the connection close
	stTunnel                  // after CONNECT/101: not HTTP any more
	stDead                    // lost sync; ignore the rest of this direction
)

// half is the parser state of one direction.
type half struct {
	st        state
	buf       []byte // header block or line being accumulated
	scanned   int    // bytes of buf already searched for the end of the header
	remaining int64  // bytes left of a sized body or chunk
	tx        *Transaction
}

// keepBody keeps request body bytes of a POST or PUT up to the cap.
func (c *Conn) keepBody(tx *Transaction, b []byte) {
	if tx == nil || c.bodyCap <= 0 || (tx.Method != "POST" && tx.Method != "PUT") {
		return
	}
	if room := c.bodyCap - len(tx.RequestBody); room > 0 {
		if len(b) > room {
			b, tx.RequestBodyCut = b[:room], true
		}
		tx.RequestBody = append(tx.RequestBody, b...)
	} else if len(b) > 0 {
		tx.RequestBodyCut = true
	}
}

func (c *Conn) addBody(h *half, fromClient bool, n int64) {
	if h.tx == nil {
		return
	}
	if fromClient {
		h.tx.RequestBodyLen += n
	} else {
		h.tx.ResponseBodyLen += n
	}
}

// feed runs the state machine over data.
func (c *Conn) feed(h *half, fromClient bool, data []byte) {
	for len(data) > 0 {
		switch h.st {
		case stDead, stTunnel:
			return
		case stHeader:
			data = c.header(h, fromClient, data)
		case stBody, stChunkData:
			n := min(int64(len(data)), h.remaining)
			if fromClient {
				c.keepBody(h.tx, data[:n])
			}
			c.addBody(h, fromClient, n)
			h.remaining -= n
			data = data[n:]
			if h.remaining == 0 {
				if h.st == stBody {
					c.done(h, fromClient)
				} else {
					h.st = stChunkEnd
				}
			}
		case stUntilClose:
			c.addBody(h, fromClient, int64(len(data)))
			return
		case stChunkSize, stChunkEnd, stTrailer:
			line, rest, ok := c.line(h, data)
			data = rest
			if !ok {
				if len(h.buf) > maxLineBytes {
					c.fail(h, fromClient)
				}
				continue
			}
			c.chunkLine(h, fromClient, line)
			h.buf = h.buf[:0]
		}
	}
}

// line accumulates one line; ok reports whether line (without CRLF) is
// complete. line may alias h.buf.
func (c *Conn) line(h *half, data []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		h.buf = append(h.buf, data...)
		return nil, nil, false
	}
	if len(h.buf) == 0 {
		line = data[:i]
	} else {
		h.buf = append(h.buf, data[:i]...)
		line = h.buf
	}
	return bytes.TrimSuffix(line, []byte{'\r'}), data[i+1:], true
}

func (c *Conn) chunkLine(h *half, fromClient bool, line []byte) {
	switch h.st {
	case stChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			c.fail(h, fromClient)
			return
		}
		if size == 0 {
			h.st = stTrailer
			return
		}
		h.remaining = size
		h.st = stChunkData
	case stChunkEnd:
		// Should be empty; tolerate junk before the newline.
		h.st = stChunkSize
	case stTrailer:
		if len(line) == 0 {
			c.done(h, fromClient)
		}
	}
}

// header accumulates a header block and, once complete, parses it. It
