package smtp

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/pcaptest"
	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

const pcapRoot = "../../../testdata/pcaps"

type got struct {
	msgs   []*textconn.Message
	logins []*textconn.Login
}

func run(t testing.TB, parts ...string) (*got, *Conn) {
	g := &got{}
	c := NewConn(textconn.Events{
		Message: func(m *textconn.Message) { g.msgs = append(g.msgs, m) },
		Login:   func(l *textconn.Login) { g.logins = append(g.logins, l) },
	}, 1<<20)
	for i, p := range parts {
		c.Data(i%2 == 1, []byte(p), time.Time{})
	}
	c.Close(time.Time{})
	return g, c
}

func TestSMTP(t *testing.T) {
	// Server and client turns alternate, server first.
	g, _ := run(t,
		"220 mx.example.org ESMTP\r\n", "EHLO client.example\r\n",
		"250-mx.example.org\r\n250 AUTH PLAIN LOGIN\r\n", "AUTH LOGIN\r\n",
		"334 VXNlcm5hbWU6\r\n", "dXNlcg==\r\n", "334 UGFzc3dvcmQ6\r\n", "cGFzc3dvcmQ=\r\n",
		"235 ok\r\n", "MAIL FROM:<a@x.org> SIZE=10\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org> NOTIFY=NEVER\r\nDATA\r\n",
		"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", "Subject: hi\r\n\r\n..dot\r\n.\r\n",
		"250 queued\r\n", "MAIL FROM:<>\r\nRCPT TO:<d@z>\r\nBDAT 5\r\nhelloBDAT 3 LAST\r\nabc",
		"250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n", "QUIT\r\n")
	if len(g.logins) != 1 || g.logins[0].User != "user" || g.logins[0].PassLen != 8 || g.logins[0].Result != textconn.Accepted || g.logins[0].Greeting == "" {
		t.Errorf("logins %+v", g.logins)
	}
	if len(g.msgs) != 2 {
		t.Fatalf("%d messages", len(g.msgs))
	}
	m := g.msgs[0]
	if m.EnvFrom != "a@x.org" || !slices.Equal(m.EnvTo, []string{"b@y.org", "c@y.org"}) || string(m.Raw) != "Subject: hi\r\n\r\n.dot\r\n" ||
		m.Helo != "client.example" || m.User != "user" || m.Command != "DATA" {
		t.Errorf("DATA message %+v", *m)
	}
	if m := g.msgs[1]; m.EnvFrom != "" || string(m.Raw) != "helloabc" || m.Command != "BDAT" || m.Size != 8 {
		t.Errorf("BDAT message %+v", *m)
	}
}

func TestSTARTTLS(t *testing.T) {
	g, c := run(t, "220 mx ESMTP\r\n", "EHLO x\r\nSTARTTLS\r\n", "250 mx\r\n220 go ahead\r\n", "\x16\x03\x01\x00\x05hello")
	if !c.TLS() || len(g.msgs) != 1 || g.msgs[0].Command != "STARTTLS" {
		t.Errorf("TLS %v msgs %+v", c.TLS(), g.msgs)
	}
	// Stored decrypted: parsing goes on, and no STARTTLS note is made.
	g, c = run(t, "220 mx ESMTP\r\n", "STARTTLS\r\n", "220 go ahead\r\n", "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
		"250 x\r\n250 ok\r\n250 ok\r\n354 go\r\n", "Subject: s\r\n\r\nb\r\n.\r\n")
	if c.TLS() || len(g.msgs) != 1 || g.msgs[0].EnvFrom != "a@b" {
		t.Errorf("decrypted capture: %+v", g.msgs)
	}
}

func TestRefusedDATA(t *testing.T) {
	// DATA refused: the next line is a command, not a body.
	g, _ := run(t, "220 mx\r\n", "MAIL FROM:<a@b>\r\nDATA\r\n", "250 ok\r\n554 no valid recipients\r\n", "QUIT\r\n")
	if len(g.msgs) != 0 {
		t.Errorf("%+v", g.msgs)
	}
}

func FuzzConn(f *testing.F) {
	for _, file := range []string{"smtp/smtp.pcap", "smtp/smtp-bdat-pipeline-8bitmime.pcap", "smtp/smtp-starttls.pcap", "smtp/smtp-data-250.pcap"} {
		for i, s := range pcaptest.Segments(f, filepath.Join(pcapRoot, file)) {
			if i > 30 {
				break
			}
			f.Add(s.Data, s.FromClient, uint8(i%7))
		}
	}
	f.Add([]byte("BDAT 99999999999\r\nAUTH PLAIN\r\n*\r\nDATA\r\n.\r\n"), true, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, fromClient bool, split uint8) {
		n := 0
		c := NewConn(textconn.Events{Message: func(m *textconn.Message) {
			n++
			if len(m.Raw) > 4096 || int64(len(m.Raw)) > m.Size {
				t.Fatalf("message kept %d of %d bytes, cap 4096", len(m.Raw), m.Size)
			}
		}, Login: func(*textconn.Login) {}}, 4096)
		cut := int(split) % (len(data) + 1)
		c.Data(fromClient, data[:cut], time.Time{})
		c.Gap(!fromClient, int(split))
		c.Data(!fromClient, data, time.Time{})
		c.Data(fromClient, data[cut:], time.Time{})
		c.Close(time.Time{})
		if len(c.pending) > MaxPending || len(c.Client.Body) > 4096 || len(c.bdatData) > 4096 {
			t.Fatal("state beyond its bounds")
		}
	})
}
