// Package imap parses the two directions of an IMAP4 connection (RFC 9051,
// RFC 3501): LOGIN and AUTHENTICATE PLAIN/LOGIN (the password only
// measured), the messages in FETCH responses (RFC822, BODY[], and the
// header-only RFC822.HEADER and BODY[HEADER...] sections, which mail
// clients use to list a folder), messages uploaded with APPEND, and
// STARTTLS. Literals ({n} and {n+}) are followed in both directions, so a
// message or a password sent as a literal is found too.
package imap

import (
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// Limits.
const (
	MaxPending = 128
	maxArgs    = 64
	maxLiteral = 4 << 10 // kept of a literal that is not a message
)

type command struct {
	tag, verb string
	args      []string
	time      time.Time
	msg       []byte // APPEND: the message
	msgSize   int64
	msgCut    bool
}

// Conn parses one IMAP connection.
type Conn struct {
	textconn.Conn
	ev       textconn.Events
	maxMsg   int
	greeting string
	login    string

	partial  *command // a command whose literal is being read
	pending  []*command
	auth     *command // AUTHENTICATE awaiting its tagged reply
	authL    *textconn.Login
	authStep int

	section  string // of the FETCH literal being read
	fetchMsg bool
}

// NewConn returns a parser keeping at most maxMessage bytes of a message.
func NewConn(ev textconn.Events, maxMessage int) *Conn {
	c := &Conn{ev: ev, maxMsg: maxMessage}
	c.Init(textconn.Callbacks{ClientLine: c.clientLine, ClientBody: c.clientLiteral,
		ServerLine: c.serverLine, ServerBody: c.serverLiteral, Encrypted: c.encrypted})
	return c
}

// Close emits what is still held.
func (c *Conn) Close(now time.Time) {
	c.Now = now
	if c.Server.Mode() == textconn.Count && c.fetchMsg && c.Server.BodyLen > 0 {
		c.Server.Cut = true
		c.serverLiteral()
	}
	if c.authL != nil {
		c.emitAuth(textconn.Unknown)
	}
	c.End()
}

// literal returns n when line ends with a literal marker {n} or {n+}.
func literal(line string) (string, int64, bool) {
	if !strings.HasSuffix(line, "}") {
		return line, 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return line, 0, false
	}
	num := strings.TrimSuffix(line[i+1:len(line)-1], "+")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return line, 0, false
	}
	return line[:i], n, true
}

// tokens splits IMAP arguments: atoms, quoted strings (unquoted) and
// parenthesised or bracketed groups (kept whole).
func tokens(s string, out []string) []string {
	for len(s) > 0 && len(out) < maxArgs {
		switch s[0] {
		case ' ':
			s = s[1:]
		case '"':
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			out = append(out, b.String())
			s = s[min(i+1, len(s)):]
		default:
			depth, i := 0, 0
			for ; i < len(s); i++ {
				ch := s[i]
				if ch == '(' || ch == '[' {
					depth++
				} else if (ch == ')' || ch == ']') && depth > 0 {
					depth--
				} else if ch == ' ' && depth == 0 {
					break
				}
			}
			out = append(out, s[:i])
			s = s[i:]
		}
	}
	return out
}

func (c *Conn) clientLine(raw []byte) {
	line := string(raw)
	if c.auth != nil && c.partial == nil {
		// A SASL response, unless the client gave up on the exchange.
		if c.authResponse(line) {
			return
		}
	}
	text, n, isLit := literal(line)
	cmd := c.partial
	if cmd == nil {
		tag, rest, _ := strings.Cut(text, " ")
		verb, args, _ := strings.Cut(rest, " ")
		verb = strings.ToUpper(verb)
		if tag == "" || verb == "" {
			c.BadLines++
			return
		}
		cmd = &command{tag: tag, verb: verb, time: c.Now}
		if verb == "UID" { // UID FETCH / UID STORE ...
			v2, a2, _ := strings.Cut(args, " ")
			cmd.verb, args = "UID "+strings.ToUpper(v2), a2
		}
		cmd.args = tokens(args, nil)
	} else {
		cmd.args = tokens(text, cmd.args)
	}
	if isLit {
		c.partial = cmd
		limit := maxLiteral
		if cmd.verb == "APPEND" {
			limit = c.maxMsg
		}
		c.Client.StartCount(n, limit)
		return
	}
	c.partial = nil
	c.complete(cmd)
}

func (c *Conn) clientLiteral() {
	cmd := c.partial
	if cmd == nil {
		return
	}
	h := &c.Client
	if cmd.verb == "APPEND" && cmd.msg == nil {
		cmd.msg, cmd.msgSize, cmd.msgCut = h.Body, h.BodyLen, h.Cut
		if cmd.msg == nil {
			cmd.msg = []byte{}
		}
	} else if len(cmd.args) < maxArgs {
		cmd.args = append(cmd.args, string(h.Body))
	}
	h.Body = nil
}

func (c *Conn) complete(cmd *command) {
	switch cmd.verb {
	case "AUTHENTICATE":
		c.auth = cmd
		c.authL = &textconn.Login{Time: cmd.time, Mechanism: strings.ToUpper(arg(cmd.args, 0))}
		c.authStep = 0
		if ir := arg(cmd.args, 1); ir != "" {
			c.authResponse(ir)
		}
	case "APPEND":
		if cmd.msg != nil {
			c.ev.EmitMessage(&textconn.Message{
				Time: cmd.time, Command: "APPEND", Send: true, Raw: cmd.msg, Size: cmd.msgSize, Cut: cmd.msgCut,
				User: c.login, Greeting: c.greeting,
			})
			cmd.msg = nil
		}
	}
	if len(c.pending) >= MaxPending {
		c.pending = c.pending[1:]
	}
	c.pending = append(c.pending, cmd)
}

func arg(a []string, i int) string {
	if i < len(a) {
		return a[i]
	}
	return ""
}

// authResponse takes a SASL response; false when the line is a command.
func (c *Conn) authResponse(line string) bool {
	if line == "*" {
		return true
	}
	b, ok := textconn.DecodeBase64(line)
	if !ok {
		return false
	}
	a := c.authL
	switch a.Mechanism {
	case "PLAIN":
		if u, n, ok := textconn.DecodePlain(line); ok {
			a.User, a.PassLen = u, n
		}
	case "LOGIN":
		if c.authStep == 0 {
			a.User = string(b)
		} else {
			a.PassLen = len(b)
		}
	case "CRAM-MD5":
		a.User, _, _ = strings.Cut(string(b), " ")
	}
	c.authStep++
	return true
}

func (c *Conn) emitAuth(r textconn.Result) {
	a := c.authL
	c.auth, c.authL = nil, nil
	a.Result = r
	if r == textconn.Accepted {
		c.login = a.User
	}
	c.loginOut(a)
}

func (c *Conn) serverLine(raw []byte) {
	line := string(raw)
	if c.fetchMsg {
		// The rest of a FETCH response after its literal.
		c.fetchMsg = false
	}
	text, n, isLit := literal(line)
	if isLit {
		c.section = section(text)
		c.fetchMsg = c.section != ""
		limit := 0
		if c.fetchMsg {
			limit = c.maxMsg
		}
		c.Server.StartCount(n, limit)
		return
	}
	switch {
	case strings.HasPrefix(line, "+"):
		return
	case strings.HasPrefix(line, "* "):
		if c.greeting == "" && len(c.pending) == 0 {
			c.greeting = strings.TrimSpace(line[2:])
		}
		return
	}
	tag, rest, _ := strings.Cut(line, " ")
	status, _, _ := strings.Cut(rest, " ")
	status = strings.ToUpper(status)
	if status != "OK" && status != "NO" && status != "BAD" {
		if c.partial == nil && c.Server.Mode() == textconn.Lines {
			c.BadLines++
		}
		return
	}
	for i, cmd := range c.pending {
		if cmd.tag != tag {
			continue
		}
		c.pending = append(c.pending[:i:i], c.pending[i+1:]...)
		c.tagged(cmd, status == "OK")
		return
	}
}

func (c *Conn) tagged(cmd *command, ok bool) {
	r := textconn.Refused
	if ok {
		r = textconn.Accepted
	}
	switch cmd.verb {
	case "LOGIN":
		l := &textconn.Login{Time: cmd.time, Mechanism: "LOGIN", User: arg(cmd.args, 0), PassLen: len(arg(cmd.args, 1)), Result: r}
		if ok {
			c.login = l.User
		}
		c.loginOut(l)
	case "AUTHENTICATE":
		if c.auth == cmd {
			c.emitAuth(r)
		}
	case "STARTTLS":
		if ok {
			c.StartTLS.Accept(c.Now)
		}
	}
}

// section names the FETCH item a literal belongs to when it is a whole
// message or a header block; "" for anything else (a body part, a mailbox
// name).
func section(text string) string {
	// ASCII upper case keeps the byte offsets of text (strings.ToUpper
	// does not, on invalid UTF-8: a fuzz crasher in testdata).
	up := asciiUpper(text)
	best := -1
	for _, k := range []string{"RFC822", "BODY[", "BINARY["} {
		if i := strings.LastIndex(up, k); i > best {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	s := strings.TrimSpace(text[best:])
	us := up[best:]
	switch {
	case strings.HasPrefix(us, "RFC822.HEADER"):
		return s
	case strings.HasPrefix(us, "RFC822.TEXT"), strings.HasPrefix(us, "RFC822.SIZE"):
		return ""
	case strings.HasPrefix(us, "RFC822"):
		return s
	case strings.HasPrefix(us, "BODY[]"), strings.HasPrefix(us, "BINARY[]"), strings.HasPrefix(us, "BODY[HEADER"):
		return s
	}
	return ""
}

func (c *Conn) serverLiteral() {
	h := &c.Server
	if c.fetchMsg {
		c.ev.EmitMessage(&textconn.Message{
			Time: c.Now, Command: "FETCH", Section: c.section, Raw: h.Body, Size: h.BodyLen, Cut: h.Cut,
			User: c.login, Greeting: c.greeting,
		})
	}
	c.fetchMsg = false
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

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
