// Package ftp parses an FTP control connection (RFC 959, RFC 2428): every
// command with its reply, logins (USER/PASS; the password only measured),
// the data connections announced by PORT, EPRT, PASV and EPSV, and the
// transfers (RETR, STOR, STOU, APPE, LIST, NLST, MLSD) with their final
// replies. It also pairs the control connection with its data connections
// (Expectations, Control) to report each file moved (Transfer); the caller
// (aclog/internal/audit), which knows the packets, hands it the data.
//
// # Lifecycle
//
// One Expectations serves a whole capture; each control connection has a
// Conn (the parser) and a Control (its transfers), each data connection a
// Data:
//
//   - The Conn's Handler.Expect adds the announced endpoint to
//     Expectations; Handler.Start and Handler.Done are the Control's Start
//     and Replied.
//   - A new TCP connection is offered to Expectations.Match before anything
//     else is made of it. A match takes the expectation (one data
//     connection each) and names the Control: Control.Attach returns the
//     connection's Data, bound to the transfer waiting for one, or to the
//     next transfer when the data connection came first (passive mode).
//   - The data connection's bytes go to Data.Add, lost bytes to Data.Gap,
//     and its end to Control.End. Data keeps at most the Control's cap and
//     counts the rest.
//   - A transfer (RETR, STOR, STOU, APPE; listings are not reported) is
//     passed to the done func once: when its final reply and the end of
//     its data connection (if any) have both been seen, when the next
//     transfer starts, or at Control.Close, which ends the control
//     connection. The done func owns the Transfer.
//   - Expectations.Expire forgets announcements not used within
//     ExpectTimeout; Reset forgets them all (the capture's clock went back).
//     At most MaxExpected wait at once: Add reports a dropped one.
package ftp

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// MaxPending bounds commands awaiting their reply.
const MaxPending = 128

// Command is one client command and the final reply to it.
type Command struct {
	Time  time.Time
	Verb  string // upper case
	Arg   string // PASS arguments are replaced by their length, "<n bytes>"
	Reply int    // final reply code; 0 when none was seen
	// Announced is the size a 150 reply gave, "(1164 bytes)"; -1 if none.
	Announced int64
}

// Expect announces a data connection: the side that will accept it listens
// on Addr (the address may be invalid for EPSV, which gives only a port:
// then it is the control connection's server).
type Expect struct {
	Addr    netip.AddrPort
	Passive bool // PASV/EPSV: the client connects to the server
}

// Handler receives what the parser finds; nil fields are skipped.
type Handler struct {
	Command func(*Command)        // every command, when its final reply arrives (or at the close)
	Login   func(*textconn.Login) // USER/PASS
	Expect  func(Expect)          // a data connection is coming
	Start   func(*Command)        // a transfer command was sent (Reply not yet known)
	Done    func(*Command)        // its final reply arrived (or the close)
}

// Conn parses one FTP control connection.
type Conn struct {
	textconn.Conn
	h        Handler
	pending  []*Command
	user     string
	userTime time.Time
	passLen  int
	sawPass  bool
	reply    []byte // first line of a multi-line reply
	code     string
	greeting string
}

// NewConn returns a parser.
func NewConn(h Handler) *Conn {
	c := &Conn{h: h}
	c.Init(textconn.Callbacks{ClientLine: c.clientLine, ServerLine: c.serverLine})
	return c
}

// Close reports the commands still waiting for a reply.
func (c *Conn) Close(now time.Time) {
	c.Now = now
	for _, cmd := range c.pending {
		c.finish(cmd)
	}
	c.pending = nil
	if c.user != "" && !c.sawPass {
		c.login(textconn.Unknown)
	}
	c.Stop()
}

// IsTransfer reports whether a command moves data over a data connection.
func IsTransfer(verb string) bool {
	switch verb {
	case "RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD":
		return true
	}
	return false
}

func (c *Conn) clientLine(line []byte) {
	verb, arg := textconn.Verb(line)
	if verb == "" {
		return
	}
	// Telnet IAC sequences some clients put before ABOR.
	for len(verb) > 0 && (verb[0] == 0xff || verb[0] == 0xf4 || verb[0] == 0xf2) {
		verb = verb[1:]
	}
	cmd := &Command{Time: c.Now, Verb: verb, Arg: arg, Announced: -1}
	switch verb {
	case "USER":
		if c.user != "" && !c.sawPass {
			c.login(textconn.Unknown)
		}
		c.user, c.userTime, c.sawPass, c.passLen = arg, c.Now, false, 0
	case "PASS":
		c.sawPass, c.passLen = true, len(arg)
		cmd.Arg = "<" + strconv.Itoa(len(arg)) + " bytes>"
	case "PORT":
		if ap, ok := parsePort(arg); ok && c.h.Expect != nil {
			c.h.Expect(Expect{Addr: ap})
		}
	case "EPRT":
		if ap, ok := parseEPRT(arg); ok && c.h.Expect != nil {
			c.h.Expect(Expect{Addr: ap})
		}
	}
	if IsTransfer(verb) && c.h.Start != nil {
		c.h.Start(cmd)
	}
	if len(c.pending) >= MaxPending {
		c.finish(c.pending[0])
		c.pending = c.pending[1:]
	}
	c.pending = append(c.pending, cmd)
}

func (c *Conn) login(r textconn.Result) {
	if c.h.Login != nil {
		c.h.Login(&textconn.Login{Time: c.userTime, Mechanism: "USER/PASS", User: c.user, PassLen: c.passLen, Result: r, Greeting: c.greeting})
	}
	c.user, c.sawPass = "", false
}

func (c *Conn) finish(cmd *Command) {
	if c.h.Command != nil {
		c.h.Command(cmd)
	}
	if IsTransfer(cmd.Verb) && c.h.Done != nil {
		c.h.Done(cmd)
	}
}

func (c *Conn) serverLine(line []byte) {
	if len(line) < 3 || !digits(line[:3]) {
		if len(c.reply) == 0 {
			c.BadLines++
		}
		return
	}
	code := string(line[:3])
	if len(c.reply) > 0 {
		// Inside a multi-line reply: it ends at "NNN " with its code.
		if code != c.code || (len(line) > 3 && line[3] == '-') {
			return
		}
		c.reply = c.reply[:0]
	} else if len(line) > 3 && line[3] == '-' {
		c.reply = append(c.reply[:0], line...)
		c.code = code
		return
	}
	n, _ := strconv.Atoi(code)
	c.serverReply(n, string(line))
}

func digits(b []byte) bool {
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return false
		}
	}
	return true
}

func (c *Conn) serverReply(code int, text string) {
	if len(c.pending) == 0 {
		if c.greeting == "" && code == 220 {
			c.greeting = text[min(4, len(text)):]
		}
		return // greeting or an unsolicited reply
	}
	cmd := c.pending[0]
	if code/100 == 1 {
		// Preliminary (150 Opening data connection): the final one follows.
		cmd.Announced = announced(text)
		return
	}
	c.pending = c.pending[1:]
	cmd.Reply = code
	switch cmd.Verb {
	case "USER":
		if code == 230 { // no password needed
			c.login(textconn.Accepted)
		} else if code/100 != 3 {
			c.login(textconn.Refused)
		}
	case "PASS":
		if c.sawPass {
			r := textconn.Refused
			if code/100 == 2 {
				r = textconn.Accepted
			} else if code == 332 { // needs ACCT: not refused
				r = textconn.Unknown
			}
			c.login(r)
		}
	case "PASV":
		if ap, ok := parsePASV(text); ok && code == 227 && c.h.Expect != nil {
			c.h.Expect(Expect{Addr: ap, Passive: true})
		}
	case "EPSV":
		if port, ok := parseEPSV(text); ok && code == 229 && c.h.Expect != nil {
			c.h.Expect(Expect{Addr: netip.AddrPortFrom(netip.Addr{}, port), Passive: true})
		}
	case "AUTH":
		if code == 234 {
			c.StartTLS.Accept(c.Now)
		}
	}
	c.finish(cmd)
}

// parsePort reads "h1,h2,h3,h4,p1,p2".
func parsePort(s string) (netip.AddrPort, bool) {
	f := strings.Split(strings.TrimSpace(s), ",")
	if len(f) != 6 {
		return netip.AddrPort{}, false
	}
	var b [6]byte
	for i, x := range f {
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil || n < 0 || n > 255 {
			return netip.AddrPort{}, false
		}
		b[i] = byte(n)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(b[4])<<8|uint16(b[5])), true
}

// parsePASV finds "(h1,h2,h3,h4,p1,p2)" (or the six numbers without
// parentheses) in a 227 reply.
func parsePASV(text string) (netip.AddrPort, bool) {
	if i := strings.IndexByte(text, '('); i >= 0 {
		if j := strings.IndexByte(text[i:], ')'); j > 0 {
			return parsePort(text[i+1 : i+j])
		}
	}
	// "227 Entering Passive Mode 1,2,3,4,5,6"
	f := strings.Fields(text)
	for k := len(f) - 1; k > 0; k-- {
		if ap, ok := parsePort(strings.TrimRight(f[k], ".")); ok {
			return ap, true
		}
	}
	return netip.AddrPort{}, false
}

// parseEPRT reads "|1|132.235.1.2|6275|" (any delimiter).
func parseEPRT(s string) (netip.AddrPort, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 4 {
		return netip.AddrPort{}, false
	}
	f := strings.Split(s[1:], s[:1])
	if len(f) < 3 {
		return netip.AddrPort{}, false
	}
	a, err := netip.ParseAddr(f[1])
	p, err2 := strconv.ParseUint(f[2], 10, 16)
	if err != nil || err2 != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), true
}

// parseEPSV reads the port of "229 Entering Extended Passive Mode (|||6446|)".
func parseEPSV(text string) (uint16, bool) {
	i := strings.IndexByte(text, '(')
	j := strings.LastIndexByte(text, ')')
	if i < 0 || j < i+5 {
		return 0, false
	}
	inner := text[i+1 : j]
	d := inner[:1]
	f := strings.Split(inner, d)
	if len(f) < 5 {
		return 0, false
	}
	p, err := strconv.ParseUint(f[3], 10, 16)
	return uint16(p), err == nil
}

// announced reads the size in "150 Opening BINARY mode data connection for
// f (1164 bytes)."; -1 when there is none.
func announced(text string) int64 {
	i := strings.LastIndex(text, " bytes)")
	if i < 0 {
		return -1
	}
	j := strings.LastIndexByte(text[:i], '(')
	if j < 0 {
		return -1
	}
	n, err := strconv.ParseInt(text[j+1:i], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
