// Package textconn is the byte plumbing shared by the line-oriented
// protocol parsers (SMTP, POP3, IMAP, FTP, IRC): one Half per direction of
// a TCP connection splits what arrives into lines, or, when the parser asks,
// collects a body that ends after a byte count (SMTP BDAT, IMAP literals) or
// at a line holding a single dot (SMTP DATA, POP3 multi-line replies), with
// dot-stuffing undone. Conn, which each protocol's parser embeds, holds
// the two Halves, the switch to TLS and the count of unparsable lines, and
// feeds each direction's bytes to the protocol's callbacks.
//
// Everything is bounded: a line longer than MaxLine is cut (the rest up to
// its newline is dropped and counted), and a body keeps at most the cap
// given when it starts while still counting every byte.
package textconn

import "bytes"

// MaxLine bounds a command or reply line.
const MaxLine = 16 << 10

// Mode says what a Half is collecting.
type Mode uint8

// Modes.
const (
	Lines Mode = iota // lines, handed to the line callback
	Count             // a body of a known number of bytes
	Dot               // a body ending at "\r\n.\r\n", dot-stuffing undone
	Drop              // everything is ignored (encrypted, lost sync)
)

// Half is one direction of a connection.
type Half struct {
	mode      Mode
	line      []byte
	skipping  bool // dropping the rest of an over-long line
	remaining int64
	dotState  uint8
	cap       int

	// Body is the collected body, at most the cap given to StartCount or
	// StartDot; BodyLen counts every byte of it and Cut says the cap cut it.
	Body    []byte
	BodyLen int64
	Cut     bool
	// LongLines counts lines cut at MaxLine.
	LongLines int
}

// Mode returns the current mode.
func (h *Half) Mode() Mode { return h.mode }

// StartCount collects the next n bytes as a body, keeping at most limit.
func (h *Half) StartCount(n int64, limit int) {
	h.startBody(limit)
	h.mode, h.remaining = Count, n
}

// StartDot collects a dot-terminated body, keeping at most limit. The
// terminating line is not part of the body.
func (h *Half) StartDot(limit int) {
	h.startBody(limit)
	h.mode, h.dotState = Dot, dotLineStart
}

func (h *Half) startBody(limit int) {
	h.Body, h.BodyLen, h.Cut, h.cap = nil, 0, false, max(limit, 0)
}

// Stop ignores the rest of this direction.
func (h *Half) Stop() { h.mode, h.line, h.Body = Drop, nil, nil }

// Resume goes back to lines (after a body the parser abandons).
func (h *Half) Resume() {
	if h.mode != Drop {
		h.mode = Lines
	}
}

// Gap tells the half n bytes were lost. A body of known length absorbs
// them (counted, not kept); anything else loses its framing, so the half
// restarts at the next line and reports false.
func (h *Half) Gap(n int) bool {
	switch h.mode {
	case Count:
		if int64(n) <= h.remaining {
			h.remaining -= int64(n)
			h.BodyLen += int64(n)
			h.Cut = true
			return true
		}
	case Drop:
		return true
	}
	h.line, h.skipping = h.line[:0], true
	return false
}

// Feed consumes data. In line mode it calls line for every complete line
// (without its line ending; the slice is only valid during the call); when
// a body completes it calls body. Either callback may change the mode,
// which applies to the rest of data.
func (h *Half) Feed(data []byte, line func([]byte), body func()) {
	for len(data) > 0 {
		switch h.mode {
		case Drop:
			return
		case Lines:
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				h.addLine(data)
				return
			}
			if h.skipping {
				h.skipping = false
				h.line = h.line[:0]
				data = data[i+1:]
				continue
			}
			var l []byte
			if len(h.line) == 0 {
				l = data[:i]
			} else {
				h.addLine(data[:i])
				l = h.line
			}
			data = data[i+1:]
			l = bytes.TrimSuffix(l, []byte{'\r'})
			line(l)
			h.line = h.line[:0]
		case Count:
			n := min(int64(len(data)), h.remaining)
			h.keep(data[:n])
			h.remaining -= n
			data = data[n:]
			if h.remaining == 0 {
				h.mode = Lines
				body()
			}
		case Dot:
			data = h.dot(data, body)
		}
	}
}

func (h *Half) addLine(b []byte) {
	if h.skipping {
		return
	}
	if len(h.line)+len(b) > MaxLine {
		h.LongLines++
		h.skipping = true
		h.line = h.line[:0]
		return
	}
	h.line = append(h.line, b...)
}

func (h *Half) keep(b []byte) {
	h.BodyLen += int64(len(b))
	if room := h.cap - len(h.Body); room > 0 {
		if len(b) > room {
			b = b[:room]
			h.Cut = true
		}
		h.Body = append(h.Body, b...)
	} else if len(b) > 0 {
		h.Cut = true
	}
}

// Dot-body states.
const (
	dotNone      uint8 = iota // inside a line
	dotLineStart              // at the start of a line
	dotDot                    // a line started with "."
	dotDotCR                  // ".\r" at the start of a line
)

// dot scans a dot-terminated body, returning the data after its end.
func (h *Half) dot(data []byte, body func()) []byte {
	start := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch h.dotState {
		case dotNone:
			if c == '\n' {
				h.dotState = dotLineStart
			}
		case dotLineStart:
			if c == '.' {
				// Keep what came before the dot; decide on the dot later.
				h.keep(data[start:i])
				start = i + 1
				h.dotState = dotDot
			} else if c != '\n' {
				h.dotState = dotNone
			}
		case dotDot:
			switch c {
			case '\r':
				// Hold the CR: it may be part of the terminator.
				start = i + 1
				h.dotState = dotDotCR
			case '\n':
				h.mode = Lines
				body()
				return data[i+1:]
			default:
				// Dot-stuffing: the dot was an escape, dropped.
				h.dotState = dotNone
			}
		case dotDotCR:
			if c == '\n' {
				h.mode = Lines
				body()
				return data[i+1:]
			}
			h.keep([]byte{'\r'})
			start = i
			h.dotState = dotNone
		}
	}
	h.keep(data[start:])
	return nil
}
