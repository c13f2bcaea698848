package chat

import (
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

func TestIRC(t *testing.T) {
	var msgs []*Message
	var logins []*textconn.Login
	c := NewIRC(Events{Message: func(m *Message) { msgs = append(msgs, m) }, Login: func(l *textconn.Login) { logins = append(logins, l) }})
	c.Data(true, []byte("PASS letmein\r\nNICK alice\r\nUSER alice 0 * :Alice\r\n"), time.Time{})
	c.Data(false, []byte(":irc.example 001 alice :Welcome\r\n:bob!b@host PRIVMSG alice :hi there\r\n"), time.Time{})
	c.Data(true, []byte("PRIVMSG #chan :hello all\r\nPRIVMSG bob :\x01VERSION\x01\r\n"), time.Time{})
	c.Close(time.Time{})
	if len(logins) != 1 || logins[0].User != "alice" || logins[0].PassLen != 7 || logins[0].Result != textconn.Accepted {
		t.Errorf("logins %+v", logins)
	}
	if len(msgs) != 2 || msgs[0].Sender != "bob" || msgs[0].Receiver != "alice" || msgs[0].Text != "hi there" ||
		msgs[1].Sender != "alice" || msgs[1].Receiver != "#chan" || msgs[1].Text != "hello all" {
		t.Errorf("messages %+v %+v", msgs[0], msgs[1])
	}
}

func TestXMPP(t *testing.T) {
	var msgs []*Message
	var logins []*textconn.Login
	x := NewXMPP(Events{Message: func(m *Message) { msgs = append(msgs, m) }, Login: func(l *textconn.Login) { logins = append(logins, l) }})
	x.Data(true, []byte("<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"), time.Time{})
	x.Data(true, []byte("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMA==</auth>"), time.Time{})
	x.Data(false, []byte("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"), time.Time{})
	x.Data(true, []byte("<message to='romeo@example.net' type='chat'><bo"), time.Time{})
	x.Data(true, []byte("dy>Art thou not Romeo?</body></message>"), time.Time{})
	x.Data(false, []byte("<message from='romeo@example.net/orchard' to='juliet@example.com' type='chat'><body>Neither, fair saint</body></message>"), time.Time{})
	x.Close(time.Time{})
	if len(logins) != 1 || logins[0].User != "juliet" || logins[0].PassLen != 5 || logins[0].Result != textconn.Accepted {
		t.Errorf("logins %+v", logins)
	}
	if len(msgs) != 2 || msgs[0].Sender != "juliet" || msgs[0].Receiver != "romeo@example.net" || msgs[0].Text != "Art thou not Romeo?" ||
		msgs[1].Sender != "romeo@example.net/orchard" || msgs[1].Text != "Neither, fair saint" {
		t.Errorf("messages %+v", msgs)
	}
}

func FuzzChat(f *testing.F) {
	f.Add([]byte("NICK a\r\nPRIVMSG #c :x\r\n"), true, false)
	f.Add([]byte(":b!b@h PRIVMSG a :y\r\n:s 464 a :bad\r\n"), false, false)
	f.Add([]byte("<stream:stream><message to='a'><body>x</body></message><auth mechanism='PLAIN'>AGEAYg==</auth><success/>"), true, true)
	f.Fuzz(func(t *testing.T, data []byte, fromClient, xmpp bool) {
		ev := Events{Message: func(*Message) {}, Login: func(*textconn.Login) {}}
		var p interface {
			Data(bool, []byte, time.Time)
			Gap(bool, int)
			Close(time.Time)
		}
		if xmpp {
			x := NewXMPP(ev)
			p = x
			defer func() {
				if len(x.buf[0]) > MaxStanza || len(x.buf[1]) > MaxStanza {
					t.Fatal("stanza buffer beyond its bound")
				}
			}()
		} else {
			p = NewIRC(ev)
		}
		half := len(data) / 2
		p.Data(fromClient, data[:half], time.Time{})
		p.Data(!fromClient, data, time.Time{})
		p.Data(fromClient, data[half:], time.Time{})
		p.Gap(fromClient, 3)
		p.Data(fromClient, data, time.Time{})
		p.Close(time.Time{})
	})
}
