// Package pop3 parses the two directions of a POP3 connection (RFC 1939):
// logins (USER/PASS, APOP, AUTH PLAIN/LOGIN; the password only measured),
// the messages of RETR and TOP (multi-line replies, dot-terminated), and
// STLS. Commands are paired with replies in order (pipelining, RFC 2449).
package pop3

import (
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// MaxPending bounds commands awaiting their reply.
const MaxPending = 128

type command struct {
	verb string
	arg  string
	time time.Time
}

// Conn parses one POP3 connection.
type Conn struct {
	ev       textconn.Events
	maxMsg   int
	c, s     textconn.Half
	now      time.Time
	greeting string
	pending  []command
	user     string // USER argument, until PASS is answered
	passLen  int
	login    string // accepted login
	auth     *textconn.Login
	authStep int
	cur      *command // whose multi-line reply is being read
	tls      textconn.StartTLS
	errors   int
}

// NewConn returns a parser keeping at most maxMessage bytes of a message.
func NewConn(ev textconn.Events, maxMessage int) *Conn {
	return &Conn{ev: ev, maxMsg: maxMessage}
}

// TLS reports that the connection went encrypted after STLS.
func (c *Conn) TLS() bool { return c.tls.Encrypted() }

// Errors counts lines that could not be parsed.
func (c *Conn) Errors() int { return c.errors + c.c.LongLines + c.s.LongLines }

// Data feeds bytes of one direction.
func (c *Conn) Data(fromClient bool, b []byte, now time.Time) {
	c.now = now
	if c.tls.Data(fromClient, b) {
		c.encrypted()
		return
	}
	if c.tls.Encrypted() {
		return
	}
	if fromClient {
		c.c.Feed(b, c.clientLine, func() {})
	} else {
		c.s.Feed(b, c.serverLine, c.serverBody)
	}
}

// Gap tells the parser n bytes of one direction were not captured.
func (c *Conn) Gap(fromClient bool, n int) {
	if fromClient {
		c.c.Gap(n)
		return
	}
	if c.s.Mode() == textconn.Dot {
		c.s.Cut = true
		c.s.BodyLen += int64(n)
		return
	}
	c.s.Gap(n)
}

// Close emits what is still held.
func (c *Conn) Close(now time.Time) {
	c.now = now
	if c.s.Mode() == textconn.Dot && c.cur != nil && c.s.BodyLen > 0 {
		c.s.Cut = true
		c.serverBody()
	}
	if c.auth != nil {
		c.emitAuth(textconn.Unknown)
	}
	if c.tls.Pending() {
		c.encrypted()
	}
	c.c.Stop()
	c.s.Stop()
}

func (c *Conn) clientLine(line []byte) {
	if c.auth != nil && len(c.pending) > 0 && c.pending[len(c.pending)-1].verb == "AUTH" {
		if c.authResponse(string(line)) {
			return
		}
	}
	verb, arg := textconn.Verb(line)
	if verb == "" {
		return
	}
	switch verb {
	case "USER":
		c.user, c.passLen = arg, -1
	case "PASS":
		c.passLen = len(arg)
	case "APOP":
		name, _, _ := strings.Cut(arg, " ")
		c.auth = &textconn.Login{Time: c.now, Mechanism: "APOP", User: name}
	case "AUTH":
		f := strings.Fields(arg)
		if len(f) > 0 {
			c.auth = &textconn.Login{Time: c.now, Mechanism: strings.ToUpper(f[0])}
			c.authStep = 0
			if len(f) > 1 {
				c.authResponse(f[1])
			}
		}
	}
	if len(c.pending) >= MaxPending {
		c.pending = c.pending[1:]
	}
	c.pending = append(c.pending, command{verb: verb, arg: arg, time: c.now})
}

// authResponse takes a SASL response line; it reports false when the line
// is not one (the client moved on).
func (c *Conn) authResponse(resp string) bool {
	a := c.auth
	if resp == "*" {
		return true
	}
	switch a.Mechanism {
	case "PLAIN":
		if u, n, ok := textconn.DecodePlain(resp); ok {
			a.User, a.PassLen = u, n
			return true
		}
	case "LOGIN":
		if b, ok := textconn.DecodeBase64(resp); ok {
			if c.authStep == 0 {
				a.User = string(b)
			} else {
				a.PassLen = len(b)
			}
			c.authStep++
			return true
		}
	case "CRAM-MD5":
		if b, ok := textconn.DecodeBase64(resp); ok {
			a.User, _, _ = strings.Cut(string(b), " ")
			return true
		}
	default:
		if _, ok := textconn.DecodeBase64(resp); ok {
			return true
		}
	}
	return false
}

func (c *Conn) emitAuth(r textconn.Result) {
	a := c.auth
	c.auth = nil
	a.Result = r
	if r == textconn.Accepted {
		c.login = a.User
	}
	c.loginOut(a)
}

// multiLine reports whether a positive reply to cmd is multi-line.
func multiLine(cmd command) bool {
	switch cmd.verb {
	case "RETR", "TOP", "CAPA":
		return true
	case "LIST", "UIDL":
		return cmd.arg == ""
	case "AUTH":
		return cmd.arg == "" // the list of mechanisms
	}
	return false
}

func (c *Conn) serverLine(line []byte) {
	ok := strings.HasPrefix(string(line), "+OK")
	bad := strings.HasPrefix(string(line), "-ERR")
	if !ok && !bad {
		if len(line) > 0 && line[0] == '+' {
			return // a SASL challenge
		}
		c.errors++
		return
	}
	if len(c.pending) == 0 {
		if ok && c.greeting == "" {
			c.greeting = strings.TrimSpace(string(line[3:]))
		}
		return
	}
	cmd := c.pending[0]
	c.pending = c.pending[1:]
	r := textconn.Refused
	if ok {
		r = textconn.Accepted
	}
	switch cmd.verb {
	case "PASS":
		if c.user != "" || c.passLen >= 0 {
			l := &textconn.Login{Time: cmd.time, Mechanism: "USER/PASS", User: c.user, PassLen: len(cmd.arg), Result: r}
			if r == textconn.Accepted {
				c.login = c.user
			}
			c.user = ""
			c.loginOut(l)
		}
	case "APOP":
		if c.auth != nil {
			c.emitAuth(r)
		}
	case "AUTH":
		if c.auth != nil && cmd.arg != "" {
			c.emitAuth(r)
		}
	case "STLS":
		if ok {
			c.tls.Accept(c.now)
		}
	}
	if ok && multiLine(cmd) {
		limit := 0
		if cmd.verb == "RETR" || cmd.verb == "TOP" {
			limit = c.maxMsg
		}
		c.cur = &cmd
		c.s.StartDot(limit)
	}
}

func (c *Conn) serverBody() {
	cmd := c.cur
	c.cur = nil
	if cmd == nil || (cmd.verb != "RETR" && cmd.verb != "TOP") {
		c.s.Body = nil
		return
	}
	h := &c.s
	c.ev.EmitMessage(&textconn.Message{
		Time: cmd.time, Command: cmd.verb, Raw: h.Body, Size: h.BodyLen, Cut: h.Cut,
		User: c.login, Greeting: c.greeting,
	})
	h.Body = nil
}

func (c *Conn) loginOut(l *textconn.Login) {
	l.Greeting = c.greeting
	c.ev.EmitLogin(l)
}

// encrypted notes that the session went encrypted after STARTTLS/STLS: a
// Message with Command STARTTLS and no content.
func (c *Conn) encrypted() {
	c.tls.SetEncrypted()
	c.c.Stop()
	c.s.Stop()
	c.ev.EmitMessage(&textconn.Message{Time: c.tls.At, Command: "STARTTLS", Greeting: c.greeting, User: c.login})
}
