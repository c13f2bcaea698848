package audit

import (
	"bytes"
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

// newFTP returns the parser of an FTP control connection, wired to the
// capture's table of announced data connections and reporting the stream's
// file transfers.
func (s *tcpStream) newFTP() textParser {
	e := s.e
	c := ftp.NewControl(e.cfg.MaxFileBytes, s.emitFTP)
	s.ftpCtl = c
	return ftp.NewConn(ftp.Handler{
		Login: func(l *textconn.Login) { s.emitLogin("ftp", textconn.ServerName(l.Greeting), l) },
		Expect: func(x ftp.Expect) {
			if !e.ftpExpect.Add(c, x, s.server, e.now) {
				e.stats.SessionsDropped++
			}
		},
		Start: c.Start,
		Done:  c.Replied,
	})
}

// emitFTP reports a transfer of the FTP control connection s.
func (s *tcpStream) emitFTP(t *ftp.Transfer) {
	s.e.stats.FileRecords++
	s.e.sink.File(&FileTransfer{
		Time: t.Time, Client: s.client, Server: s.server, Proto: "ftp", Command: t.Verb, Name: t.Name,
		Upload: t.Upload, Size: t.Size, Content: t.Content, Cut: t.Cut, Reply: t.Reply, NoData: t.NoData,
	})
}

// matchFTPData reports whether a new connection is an announced FTP data
// connection, and binds it.
func (s *tcpStream) matchFTPData() bool {
	ctl, swapped := s.e.ftpExpect.Match(s.client, s.server)
	if ctl == nil {
		return false
	}
	if swapped {
		s.client, s.server = s.server, s.client
		s.swapped = !s.swapped
	}
	s.ftpData = ctl.Attach()
	s.ftpDataCtl = ctl
	return true
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
