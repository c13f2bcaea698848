// Package smtp parses the two directions of an SMTP connection: the
// greeting, HELO/EHLO, AUTH (PLAIN, LOGIN, CRAM-MD5, XOAUTH2; the password
// only measured), MAIL FROM, every RCPT TO, the message of DATA (dot
// terminated) or BDAT (CHUNKING), and STARTTLS. Commands are paired with
// replies in order, so pipelining (RFC 2920) is followed.
//
// After an accepted STARTTLS the parser looks at the client's next bytes:
// a TLS record means the rest is encrypted (TLS reports true and the
// caller may hand the bytes to a TLS parser); anything else is taken as a
// capture stored decrypted and parsed on.
package smtp

import (
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// MaxPending bounds commands awaiting their reply.
const MaxPending = 128

// Conn parses one SMTP connection.
type Conn struct {
	textconn.Conn
	ev       textconn.Events
	maxMsg   int
	greeting string
	helo     string
	user     string
	pending  []string
	tx       *textconn.Message
	bdatLast bool
	bdatData []byte
	bdatSize int64
	bdatCut  bool
	auth     *authState
	reply    []byte
}

type authState struct {
	login     textconn.Login
	responses int
	wantPass  bool // AUTH LOGIN: the next response is the password
}

// NewConn returns a parser keeping at most maxMessage bytes of a message.
func NewConn(ev textconn.Events, maxMessage int) *Conn {
	c := &Conn{ev: ev, maxMsg: maxMessage}
	c.Init(textconn.Callbacks{ClientLine: c.clientLine, ClientBody: c.clientBody, ServerLine: c.serverLine, Encrypted: c.encrypted})
	return c
}

// Gap tells the parser n bytes of one direction were not captured.
func (c *Conn) Gap(fromClient bool, n int) {
	if fromClient {
		if !c.Client.Gap(n) && c.tx != nil && c.Client.Mode() == textconn.Lines {
			// A hole in a dot-terminated body: the end cannot be found
			// reliably; what was collected is emitted at the next command
			// or at the close.
			c.tx.Cut = true
		}
		return
	}
	c.Server.Gap(n)
}

// Close emits what is still held.
func (c *Conn) Close(now time.Time) {
	c.Now = now
	if c.Client.Mode() == textconn.Dot && c.tx != nil && c.Client.BodyLen > 0 {
		c.Client.Cut = true
		c.clientBody()
	} else if c.bdatSize > 0 && c.tx != nil {
		c.bdatCut = true
		c.emitBDAT()
	}
	if c.auth != nil {
		c.emitAuth(textconn.Unknown)
	}
	c.End() // STARTTLS accepted, then nothing more captured: encrypted
}

// encrypted notes that the session went encrypted after STARTTLS: a
// Message with Command STARTTLS and no content.
func (c *Conn) encrypted() {
	c.emitMessage(&textconn.Message{Time: c.StartTLS.At, Command: "STARTTLS", Send: true})
}

func (c *Conn) push(cmd string) {
	if len(c.pending) >= MaxPending {
		c.pending = c.pending[1:]
	}
	c.pending = append(c.pending, cmd)
}

func (c *Conn) clientLine(line []byte) {
	if c.auth != nil {
		c.authResponse(string(line))
		return
	}
	verb, arg := textconn.Verb(line)
	switch verb {
	case "HELO", "EHLO", "LHLO":
		c.helo = arg
	case "MAIL":
		c.tx = &textconn.Message{Time: c.Now, Send: true, EnvFrom: path(arg, "FROM:")}
	case "RCPT":
		if c.tx == nil {
			c.tx = &textconn.Message{Time: c.Now, Send: true}
		}
		if len(c.tx.EnvTo) < 1000 {
			c.tx.EnvTo = append(c.tx.EnvTo, path(arg, "TO:"))
		}
	case "DATA":
		if c.tx == nil {
			c.tx = &textconn.Message{Time: c.Now, Send: true}
		}
		c.tx.Command = "DATA"
		c.Client.StartDot(c.maxMsg)
	case "BDAT":
		f := strings.Fields(arg)
		n, err := strconv.ParseInt(strings.TrimSpace(first(f)), 10, 64)
		if err != nil || n < 0 {
			c.BadLines++
			break
		}
		if c.tx == nil {
			c.tx = &textconn.Message{Time: c.Now, Send: true}
		}
		c.tx.Command = "BDAT"
		c.bdatLast = len(f) > 1 && strings.EqualFold(f[1], "LAST")
		c.Client.StartCount(n, max(c.maxMsg-len(c.bdatData), 0))
	case "RSET":
		c.tx, c.bdatData, c.bdatSize = nil, nil, 0
	case "AUTH":
		f := strings.Fields(arg)
		c.auth = &authState{login: textconn.Login{Time: c.Now, Mechanism: strings.ToUpper(first(f))}}
		if len(f) > 1 && f[1] != "=" {
			c.authResponse(f[1])
		}
	case "":
		return
	}
	c.push(verb)
}

func first(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// path extracts the address of "FROM:<a@b> SIZE=1" (the brackets and
// parameters dropped; "<>" is the null sender).
func path(arg, prefix string) string {
	if len(arg) >= len(prefix) && strings.EqualFold(arg[:len(prefix)], prefix) {
		arg = arg[len(prefix):]
	}
	arg = strings.TrimSpace(arg)
	if strings.HasPrefix(arg, "<") {
		if i := strings.IndexByte(arg, '>'); i > 0 {
			return arg[1:i]
		}
		return strings.TrimPrefix(arg, "<")
	}
	if i := strings.IndexAny(arg, " \t"); i >= 0 {
		arg = arg[:i]
	}
	return arg
}

func (c *Conn) authResponse(resp string) {
	a := c.auth
	a.responses++
	if resp == "*" {
		c.emitAuth(textconn.Refused)
		return
	}
	switch a.login.Mechanism {
	case "PLAIN":
		if u, n, ok := textconn.DecodePlain(resp); ok {
			a.login.User, a.login.PassLen = u, n
		}
	case "LOGIN":
		b, ok := textconn.DecodeBase64(resp)
		if !ok {
			return
		}
		if a.wantPass {
			a.login.PassLen = len(b)
			a.wantPass = false
		} else {
			a.login.User = string(b)
			a.wantPass = true
		}
	case "CRAM-MD5":
		if b, ok := textconn.DecodeBase64(resp); ok {
			a.login.User, _, _ = strings.Cut(string(b), " ")
		}
	case "XOAUTH2", "OAUTHBEARER":
		if b, ok := textconn.DecodeBase64(resp); ok {
			for _, kv := range strings.FieldsFunc(string(b), func(r rune) bool { return r == 1 || r == ',' }) {
				if u, ok := strings.CutPrefix(kv, "user="); ok {
					a.login.User = u
				}
			}
		}
	}
}

func (c *Conn) emitAuth(r textconn.Result) {
	a := c.auth
	c.auth = nil
	a.login.Result = r
	if r == textconn.Accepted {
		c.user = a.login.User
	}
	c.loginOut(&a.login)
}

func (c *Conn) clientBody() {
	if c.tx == nil {
		return
	}
	h := &c.Client
	if c.tx.Command == "BDAT" {
		c.bdatData = append(c.bdatData, h.Body...)
		c.bdatSize += h.BodyLen
		c.bdatCut = c.bdatCut || h.Cut
		h.Body = nil
		if c.bdatLast {
			c.emitBDAT()
		}
		return
	}
	tx := c.tx
	c.tx = nil
	tx.Raw, tx.Size, tx.Cut = h.Body, h.BodyLen, tx.Cut || h.Cut
	h.Body = nil
	c.emitMessage(tx)
	c.push(".") // the reply to the end of the data
}

func (c *Conn) emitBDAT() {
	tx := c.tx
	c.tx = nil
	tx.Raw, tx.Size, tx.Cut = c.bdatData, c.bdatSize, tx.Cut || c.bdatCut
	c.bdatData, c.bdatSize, c.bdatCut = nil, 0, false
	c.emitMessage(tx)
}

func (c *Conn) emitMessage(m *textconn.Message) {
	m.Helo, m.User, m.Greeting = c.helo, c.user, c.greeting
	c.ev.EmitMessage(m)
}

// serverLine collects a reply (multi-line replies end at "NNN ").
func (c *Conn) serverLine(line []byte) {
	if len(line) < 3 || !digits(line[:3]) {
		c.BadLines++
		return
	}
	if len(line) > 3 && line[3] == '-' {
		if len(c.reply) == 0 {
			c.reply = append(c.reply[:0], line...)
		}
		return
	}
	code, _ := strconv.Atoi(string(line[:3]))
	text := string(line)
	if len(c.reply) > 0 {
		text = string(c.reply)
		c.reply = c.reply[:0]
	}
	c.serverReply(code, text)
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
	if c.auth != nil && code == 334 {
		return // a SASL challenge: the exchange goes on
	}
	if len(c.pending) == 0 {
		if code == 220 && c.greeting == "" {
			c.greeting = strings.TrimSpace(text[min(4, len(text)):])
		}
		return
	}
	cmd := c.pending[0]
	c.pending = c.pending[1:]
	switch cmd {
	case "AUTH":
		if c.auth != nil {
			r := textconn.Refused
			if code/100 == 2 {
				r = textconn.Accepted
			}
			c.emitAuth(r)
		}
	case "STARTTLS":
		if code == 220 {
			c.StartTLS.Accept(c.Now)
		}
	case "DATA":
		if code != 354 && c.Client.Mode() == textconn.Dot && c.Client.BodyLen == 0 {
			// Refused: no body follows.
			c.Client.Resume()
			c.tx = nil
		}
	}
}

func (c *Conn) loginOut(l *textconn.Login) {
	l.Greeting = c.greeting
	c.ev.EmitLogin(l)
}
