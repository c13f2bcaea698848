// Package chat parses the plaintext chat protocols a capture can read:
// IRC (RFC 2812: PRIVMSG and NOTICE both ways, NICK, PASS) and XMPP
// (RFC 6120/6121: <message> stanzas with a <body>, SASL PLAIN logins,
// STARTTLS). Everything is bounded: lines by textconn.MaxLine, XMPP
// stanzas by MaxStanza.
package chat

import (
	"bytes"
	"encoding/xml"
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// Message is one chat message.
type Message struct {
	Time       time.Time
	Sender     string
	Receiver   string
	Text       string
	FromClient bool
}

// Events receives what the parsers find.
type Events struct {
	Message func(*Message)
	Login   func(*textconn.Login)
}

// IRC parses one IRC connection.
type IRC struct {
	ev     Events
	c, s   textconn.Half
	now    time.Time
	nick   string
	pass   int
	passAt time.Time
	errors int
}

// NewIRC returns an IRC parser.
func NewIRC(ev Events) *IRC { return &IRC{ev: ev, pass: -1} }

// TLS is always false: IRC over TLS uses its own port from the start.
func (c *IRC) TLS() bool { return false }

// Errors counts lines that could not be parsed.
func (c *IRC) Errors() int { return c.errors + c.c.LongLines + c.s.LongLines }

// Data feeds bytes of one direction.
func (c *IRC) Data(fromClient bool, b []byte, now time.Time) {
	c.now = now
	if fromClient {
		c.c.Feed(b, func(l []byte) { c.line(true, l) }, func() {})
	} else {
		c.s.Feed(b, func(l []byte) { c.line(false, l) }, func() {})
	}
}

// Gap tells the parser bytes were lost.
func (c *IRC) Gap(fromClient bool, n int) {
	if fromClient {
		c.c.Gap(n)
	} else {
		c.s.Gap(n)
	}
}

// Close ends the connection.
func (c *IRC) Close(now time.Time) {
	if c.pass >= 0 && c.ev.Login != nil {
		c.ev.Login(&textconn.Login{Time: c.passAt, Mechanism: "PASS", User: c.nick, PassLen: c.pass})
	}
	c.pass = -1
	c.c.Stop()
	c.s.Stop()
}

// line handles one IRC message: [":prefix "] command params [" :trailing"].
func (c *IRC) line(fromClient bool, l []byte) {
	prefix, cmd, params := splitIRC(string(l))
	switch cmd {
	case "NICK":
		if fromClient && len(params) > 0 {
			c.nick = params[0]
		}
	case "PASS":
		if fromClient && len(params) > 0 {
			c.pass, c.passAt = len(params[0]), c.now
		}
	case "001": // welcome: the registration (and PASS) was accepted
		if c.pass >= 0 && c.ev.Login != nil {
			c.ev.Login(&textconn.Login{Time: c.passAt, Mechanism: "PASS", User: c.nick, PassLen: c.pass, Result: textconn.Accepted})
			c.pass = -1
		}
	case "464": // ERR_PASSWDMISMATCH
		if c.pass >= 0 && c.ev.Login != nil {
			c.ev.Login(&textconn.Login{Time: c.passAt, Mechanism: "PASS", User: c.nick, PassLen: c.pass, Result: textconn.Refused})
			c.pass = -1
		}
	case "PRIVMSG", "NOTICE":
		if len(params) < 2 || c.ev.Message == nil {
			return
		}
		from := c.nick
		if !fromClient {
			from, _, _ = strings.Cut(prefix, "!")
		}
		text := params[len(params)-1]
		if strings.HasPrefix(text, "\x01") && !strings.HasPrefix(text, "\x01ACTION") {
			return // CTCP queries (VERSION, PING) are not chat
		}
		c.ev.Message(&Message{Time: c.now, Sender: from, Receiver: params[0], Text: text, FromClient: fromClient})
	case "":
	default:
		if len(cmd) > 32 {
			c.errors++
		}
	}
}

// splitIRC splits an IRC message (RFC 2812 2.3.1) into its prefix (without
// the colon), its command in upper case and its parameters, the trailing
// one last.
func splitIRC(s string) (prefix, cmd string, params []string) {
	if strings.HasPrefix(s, ":") {
		prefix, s, _ = strings.Cut(s[1:], " ")
	}
	cmd, rest, _ := strings.Cut(s, " ")
	cmd = strings.ToUpper(cmd)
	trailing, hasTrailing := "", false
	for rest != "" {
		if strings.HasPrefix(rest, ":") {
			trailing, hasTrailing = rest[1:], true
			break
		}
		var p string
		p, rest, _ = strings.Cut(rest, " ")
		if p != "" {
			params = append(params, p)
		}
	}
	if hasTrailing {
		params = append(params, trailing)
	}
	return prefix, cmd, params
}

// MaxStanza bounds an XMPP stanza held while it arrives.
const MaxStanza = 256 << 10

// XMPP parses one XMPP client connection.
type XMPP struct {
	ev     Events
	buf    [2][]byte
	now    time.Time
	user   string // from SASL or the stream header
	login  *textconn.Login
	tls    textconn.StartTLS
	dead   [2]bool
	errors int
}

// NewXMPP returns an XMPP parser.
func NewXMPP(ev Events) *XMPP { return &XMPP{ev: ev} }

// TLS reports that the stream went encrypted after STARTTLS.
func (x *XMPP) TLS() bool { return x.tls.Encrypted() }

// Errors counts stanzas that could not be parsed or were too large.
func (x *XMPP) Errors() int { return x.errors }

// Gap loses the framing of a direction: it is not parsed further.
func (x *XMPP) Gap(fromClient bool, _ int) { x.dead[idx(fromClient)] = true }

// Close ends the connection.
func (x *XMPP) Close(time.Time) {
	if x.login != nil && x.ev.Login != nil {
		x.ev.Login(x.login)
	}
	x.login = nil
	x.buf = [2][]byte{}
}

func idx(fromClient bool) int {
	if fromClient {
		return 0
	}
	return 1
}

// Data feeds bytes of one direction.
func (x *XMPP) Data(fromClient bool, b []byte, now time.Time) {
	x.now = now
	if x.tls.Data(fromClient, b) {
		return
	}
	i := idx(fromClient)
	if x.tls.Encrypted() || x.dead[i] {
		return
	}
	x.buf[i] = append(x.buf[i], b...)
	for {
		el, n := nextElement(x.buf[i])
		if n == 0 {
			break
		}
		x.element(fromClient, el)
		x.buf[i] = x.buf[i][n:]
	}
	if len(x.buf[i]) > MaxStanza {
		x.errors++
		x.dead[i] = true
		x.buf[i] = nil
	}
	if len(x.buf[i]) == 0 {
		x.buf[i] = nil
	}
}

// nextElement returns the first complete top-level element of the stream
// in b (the stream header <stream:stream ...> counts as one), and the bytes
// it used; 0 when none is complete yet.
func nextElement(b []byte) ([]byte, int) {
	start := bytes.IndexByte(b, '<')
	if start < 0 {
		return nil, 0
	}
	rest := b[start:]
	end := bytes.IndexByte(rest, '>')
	if end < 0 {
		return nil, 0
	}
	tag := rest[:end+1]
	name := tagName(tag)
	switch {
	case bytes.HasPrefix(tag, []byte("<?")), bytes.HasPrefix(tag, []byte("</")),
		name == "stream:stream", name == "stream", bytes.HasSuffix(tag, []byte("/>")):
		return tag, start + end + 1
	}
	closing := []byte("</" + name + ">")
	j := bytes.Index(rest, closing)
	if j < 0 {
		return nil, 0
	}
	return rest[:j+len(closing)], start + j + len(closing)
}

func tagName(tag []byte) string {
	t := bytes.TrimLeft(tag, "</")
	i := bytes.IndexAny(t, " \t\r\n/>")
	if i < 0 {
		return string(t)
	}
	return string(t[:i])
}

type stanza struct {
	XMLName   xml.Name
	To        string   `xml:"to,attr"`
	From      string   `xml:"from,attr"`
	Type      string   `xml:"type,attr"`
	Mechanism string   `xml:"mechanism,attr"`
	Body      []string `xml:"body"`
	Text      string   `xml:",chardata"`
}

func (x *XMPP) element(fromClient bool, el []byte) {
	name := tagName(el)
	switch name {
	case "stream:stream", "stream":
		if fromClient {
			var st stanza
			if xml.Unmarshal(append(bytes.Clone(bytes.TrimSuffix(el, []byte(">"))), "/>"...), &st) == nil && st.From != "" && x.user == "" {
				x.user = st.From
			}
		}
		return
	case "starttls":
		return
	case "proceed":
		x.tls.Accept(x.now)
		return
	}
	var st stanza
	if err := xml.Unmarshal(el, &st); err != nil {
		x.errors++
		return
	}
	switch st.XMLName.Local {
	case "auth":
		if fromClient {
			l := &textconn.Login{Time: x.now, Mechanism: st.Mechanism}
			if st.Mechanism == "PLAIN" {
				l.User, l.PassLen, _ = textconn.DecodePlain(strings.TrimSpace(st.Text))
			}
			x.login = l
		}
	case "success", "failure":
		if x.login != nil {
			x.login.Result = textconn.Refused
			if st.XMLName.Local == "success" {
				x.login.Result = textconn.Accepted
				x.user = x.login.User
			}
			if x.ev.Login != nil {
				x.ev.Login(x.login)
			}
			x.login = nil
		}
	case "message":
		if len(st.Body) == 0 || x.ev.Message == nil {
			return
		}
		from := st.From
		if from == "" && fromClient {
			from = x.user
		}
		x.ev.Message(&Message{Time: x.now, Sender: from, Receiver: st.To, Text: st.Body[0], FromClient: fromClient})
	}
}
