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
	textconn.Conn
	ev       textconn.Events
	maxMsg   int
	greeting string
	pending  []command
	user     string // USER argument, until PASS is answered
	passLen  int
	login    string // accepted login
	auth     *textconn.Login
	authStep int
	cur      *command // whose multi-line reply is being read
}

// NewConn returns a parser keeping at most maxMessage bytes of a message.
func NewConn(ev textconn.Events, maxMessage int) *Conn {
	c := &Conn{ev: ev, maxMsg: maxMessage}
	c.Init(textconn.Callbacks{ClientLine: c.clientLine, ServerLine: c.serverLine, ServerBody: c.serverBody, Encrypted: c.encrypted})
	return c
}

// Gap tells the parser n bytes of one direction were not captured.
func (c *Conn) Gap(fromClient bool, n int) {
	if fromClient {
		c.Client.Gap(n)
		return
	}
	if c.Server.Mode() == textconn.Dot {
		c.Server.Cut = true
		c.Server.BodyLen += int64(n)
		return
	}
	c.Server.Gap(n)
}

// Close emits what is still held.
func (c *Conn) Close(now time.Time) {
	c.Now = now
	if c.Server.Mode() == textconn.Dot && c.cur != nil && c.Server.BodyLen > 0 {
		c.Server.Cut = true
		c.serverBody()
	}
	if c.auth != nil {
		c.emitAuth(textconn.Unknown)
	}
	c.End()
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
		c.auth = &textconn.Login{Time: c.Now, Mechanism: "APOP", User: name}
	case "AUTH":
		f := strings.Fields(arg)
		if len(f) > 0 {
			c.auth = &textconn.Login{Time: c.Now, Mechanism: strings.ToUpper(f[0])}
			c.authStep = 0
			if len(f) > 1 {
				c.authResponse(f[1])
			}
		}
	}
	if len(c.pending) >= MaxPending {
		c.pending = c.pending[1:]
	}
	c.pending = append(c.pending, command{verb: verb, arg: arg, time: c.Now})
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
		c.BadLines++
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
			c.StartTLS.Accept(c.Now)
		}
	}
	if ok && multiLine(cmd) {
		limit := 0
		if cmd.verb == "RETR" || cmd.verb == "TOP" {
			limit = c.maxMsg
		}
		c.cur = &cmd
		c.Server.StartDot(limit)
	}
}

func (c *Conn) serverBody() {
	cmd := c.cur
	c.cur = nil
	if cmd == nil || (cmd.verb != "RETR" && cmd.verb != "TOP") {
		c.Server.Body = nil
		return
	}
	h := &c.Server
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
	c.ev.EmitMessage(&textconn.Message{Time: c.StartTLS.At, Command: "STARTTLS", Greeting: c.greeting, User: c.login})
}
