package audit

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/chat"
	"github.com/acstore/acstore/aclog/internal/proto/ftp"
	"github.com/acstore/acstore/aclog/internal/proto/imap"
	"github.com/acstore/acstore/aclog/internal/proto/mail"
	"github.com/acstore/acstore/aclog/internal/proto/pop3"
	"github.com/acstore/acstore/aclog/internal/proto/smtp"
	"github.com/acstore/acstore/aclog/internal/proto/telnet"
	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// textParser is a line-oriented protocol parser (SMTP, POP3, IMAP, FTP,
// IRC, XMPP) fed by a tcpStream.
type textParser interface {
	Data(fromClient bool, b []byte, now time.Time)
	Gap(fromClient bool, n int)
	Close(now time.Time)
	// TLS reports that the connection switched to TLS (STARTTLS, STLS,
	// AUTH TLS); the stream then hands its bytes to the TLS parser.
	TLS() bool
	Errors() int
}

// Well-known server ports of the text protocols.
func textPortKind(p uint16) streamKind {
	switch p {
	case 25, 587, 2525:
		return kindSMTP
	case 110:
		return kindPOP3
	case 143:
		return kindIMAP
	case 21:
		return kindFTP
	case 6667, 6668, 6669, 7000:
		return kindIRC
	case 5222:
		return kindXMPP
	case 23:
		return kindTelnet
	}
	return kindUnknown
}

// greetingKind recognises a server-first protocol from its greeting.
func greetingKind(b []byte) streamKind {
	b = b[:min(len(b), 256)]
	switch {
	case bytes.HasPrefix(b, []byte("220 ")) || bytes.HasPrefix(b, []byte("220-")):
		var buf [256]byte
		up := buf[:copy(buf[:], b)]
		for i, c := range up {
			if c >= 'a' && c <= 'z' {
				up[i] = c - 32
			}
		}
		switch {
		case bytes.Contains(up, []byte("FTP")):
			return kindFTP
		case bytes.Contains(up, []byte("SMTP")) || bytes.Contains(up, []byte("MAIL")):
			return kindSMTP
		}
	case bytes.HasPrefix(b, []byte("+OK ")):
		return kindPOP3
	case bytes.HasPrefix(b, []byte("* OK ")):
		return kindIMAP
	}
	return kindUnknown
}

func (s *tcpStream) newText(kind streamKind) (textParser, string) {
	e := s.e
	switch kind {
	case kindSMTP:
		return smtp.NewConn(s.mailEvents("smtp"), e.cfg.MaxMessageBytes), "smtp"
	case kindPOP3:
		return pop3.NewConn(s.mailEvents("pop3"), e.cfg.MaxMessageBytes), "pop3"
	case kindIMAP:
		return imap.NewConn(s.mailEvents("imap"), e.cfg.MaxMessageBytes), "imap"
	case kindFTP:
		return s.newFTP(), "ftp"
	case kindIRC:
		return newIRC(s), "irc"
	case kindXMPP:
		return newXMPP(s), "xmpp"
	case kindTelnet:
		return telnet.NewConn(func(l *textconn.Login) { s.emitLogin("telnet", "", l) }), "telnet"
	}
	return nil, ""
}

func (s *tcpStream) ttl() uint8 {
	if s.sess != nil {
		return s.sess.ttl
	}
	return 0
}

func (s *tcpStream) mailEvents(proto string) textconn.Events {
	e := s.e
	return textconn.Events{
		Message: func(m *textconn.Message) {
			ev := &Mail{
				Time: m.Time, Client: s.client, Server: s.server, TTL: s.ttl(), IPLen: e.pktIPLen,
				Proto: proto, Command: m.Command, Send: m.Send,
				Helo: m.Helo, ServerName: textconn.ServerName(m.Greeting), User: m.User,
				EnvFrom: m.EnvFrom, EnvTo: m.EnvTo, Section: m.Section,
				Size: m.Size, Cut: m.Cut,
			}
			if m.Command == "STARTTLS" {
				ev.Encrypted = true
			} else {
				ev.Message = mail.Parse(m.Raw, mail.Limits{
					MaxBody: e.cfg.MailBodyBytes, MaxAttachment: e.cfg.MailAttachmentBytes,
					MaxParts: mail.DefaultLimits.MaxParts, MaxDepth: mail.DefaultLimits.MaxDepth,
				})
			}
			e.stats.MailRecords++
			e.sink.Mail(ev)
		},
		Login: func(l *textconn.Login) { s.emitLogin(proto, textconn.ServerName(l.Greeting), l) },
	}
}

func (s *tcpStream) emitLogin(proto, serverName string, l *textconn.Login) {
	e := s.e
	e.stats.CredentialRecords++
	e.sink.Credential(&Credential{
		Time: l.Time, Client: s.client, Server: s.server, Proto: proto, Mechanism: l.Mechanism,
		ServerName: serverName, User: l.User, PassLen: l.PassLen, Result: l.Result,
	})
}

// ftpExpectation is a data connection announced on a control connection.
type ftpExpectation struct {
	ctl *ftpControl
	at  time.Time
}

// maxFTPExpect bounds the announced data connections waiting to be seen.
const maxFTPExpect = 4096

// ftpExpectTimeout: a data connection not opened this long after it was
// announced is forgotten.
const ftpExpectTimeout = 2 * time.Minute

// ftpControl ties an FTP control connection to its data connections.
type ftpControl struct {
	s        *tcpStream
	xfer     *ftpXfer
	nextData *ftpData // opened before its command was seen (passive mode)
}

type ftpXfer struct {
	cmd     *ftp.Command
	replied bool
	data    *ftpData
}

// ftpData is one data connection's content.
type ftpData struct {
	buf  []byte
	size int64
	cut  bool
	done bool
	max  int
}

func (d *ftpData) add(b []byte) {
	d.size += int64(len(b))
	if room := d.max - len(d.buf); room > 0 {
		if len(b) > room {
			b, d.cut = b[:room], true
		}
		d.buf = append(d.buf, b...)
	} else if len(b) > 0 {
		d.cut = true
	}
}

func (s *tcpStream) newFTP() textParser {
	c := &ftpControl{s: s}
	s.ftpCtl = c
	return ftp.NewConn(ftp.Handler{
		Login: func(l *textconn.Login) { s.emitLogin("ftp", textconn.ServerName(l.Greeting), l) },
		Expect: func(x ftp.Expect) {
			e := s.e
			if len(e.ftpExpect) >= maxFTPExpect {
				e.stats.SessionsDropped++
				return
			}
			ap := x.Addr
			if !ap.Addr().IsValid() {
				// EPSV names only a port: the server's address.
				ap = netip.AddrPortFrom(s.server.Addr(), ap.Port())
			}
			e.ftpExpect[ap] = &ftpExpectation{ctl: c, at: e.now}
			if e.ftpCheck.IsZero() {
				e.ftpCheck = e.now.Add(ftpExpectTimeout)
			}
			if x.Passive && ap.Addr() != s.server.Addr() {
				// A NATed server announces its private address: the client
				// connects to the public one.
				e.ftpExpect[netip.AddrPortFrom(s.server.Addr(), ap.Port())] = &ftpExpectation{ctl: c, at: e.now}
			}
		},
		Start: func(cmd *ftp.Command) {
			if c.xfer != nil {
				c.emit()
			}
			c.xfer = &ftpXfer{cmd: cmd, data: c.nextData}
			c.nextData = nil
		},
		Done: func(cmd *ftp.Command) {
			if c.xfer != nil && c.xfer.cmd == cmd {
				c.xfer.replied = true
				c.check()
			}
		},
	})
}

// attach binds a new data connection to the control connection.
func (c *ftpControl) attach() *ftpData {
	d := &ftpData{max: c.s.e.cfg.MaxFileBytes}
	if c.xfer != nil && c.xfer.data == nil {
		c.xfer.data = d
	} else {
		c.nextData = d
	}
	return d
}

func (c *ftpControl) check() {
	x := c.xfer
	if x != nil && x.replied && (x.data == nil || x.data.done) {
		c.emit()
	}
}

// emit reports the transfer in progress (file transfers only; listings
// are not files).
func (c *ftpControl) emit() {
	x := c.xfer
	c.xfer = nil
	switch x.cmd.Verb {
	case "RETR", "STOR", "STOU", "APPE":
	default:
		return
	}
	s := c.s
	ev := &FileTransfer{
		Time: x.cmd.Time, Client: s.client, Server: s.server, Proto: "ftp", Command: x.cmd.Verb, Name: x.cmd.Arg,
		Upload: x.cmd.Verb != "RETR", Reply: x.cmd.Reply, NoData: x.data == nil,
	}
	if d := x.data; d != nil {
		ev.Size, ev.Content, ev.Cut = d.size, d.buf, d.cut || !d.done
	} else if x.cmd.Announced >= 0 {
		// No data connection captured: the size the server announced.
		ev.Size, ev.Cut = x.cmd.Announced, true
	}
	s.e.stats.FileRecords++
	s.e.sink.File(ev)
}

// close ends the control connection: a transfer still open is reported.
func (c *ftpControl) close() {
	if c.xfer != nil {
		c.emit()
	}
}

// matchFTPData reports whether a new connection is an announced FTP data
// connection, and binds it.
func (s *tcpStream) matchFTPData() bool {
	e := s.e
	if len(e.ftpExpect) == 0 {
		return false
	}
	for _, ap := range []netip.AddrPort{s.server, s.client} {
		x := e.ftpExpect[ap]
		if x == nil {
			continue
		}
		delete(e.ftpExpect, ap)
		if ap == s.client {
			s.client, s.server = s.server, s.client
			s.swapped = !s.swapped
		}
		s.ftpData = x.ctl.attach()
		s.ftpDataCtl = x.ctl
		return true
	}
	return false
}

func (e *Engine) expireFTP(now time.Time) {
	// At most maxFTPExpect, looked at only once the oldest could expire.
	if len(e.ftpExpect) == 0 || now.Before(e.ftpCheck) {
		return
	}
	e.ftpCheck = time.Time{}
	for ap, x := range e.ftpExpect {
		if now.Sub(x.at) > ftpExpectTimeout {
			delete(e.ftpExpect, ap)
		} else if at := x.at.Add(ftpExpectTimeout); e.ftpCheck.IsZero() || at.Before(e.ftpCheck) {
			e.ftpCheck = at
		}
	}
}

// emitChat reports a chat message.
func (s *tcpStream) emitChat(proto, from, to, text string, at time.Time) {
	e := s.e
	cut := false
	if len(text) > e.cfg.ChatBytes {
		text, cut = text[:e.cfg.ChatBytes], true
	}
	e.stats.ChatRecords++
	e.sink.Chat(&Chat{Time: at, Client: s.client, Server: s.server, Proto: proto, Sender: from, Receiver: to, Text: text, Cut: cut})
}

func (s *tcpStream) chatEvents(proto string) chat.Events {
	return chat.Events{
		Message: func(m *chat.Message) { s.emitChat(proto, m.Sender, m.Receiver, m.Text, m.Time) },
		Login:   func(l *textconn.Login) { s.emitLogin(proto, "", l) },
	}
}

func newIRC(s *tcpStream) textParser  { return chat.NewIRC(s.chatEvents("irc")) }
func newXMPP(s *tcpStream) textParser { return chat.NewXMPP(s.chatEvents("xmpp")) }
