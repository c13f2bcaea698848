package pop3

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/pcaptest"
	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

const pcapRoot = "../../../testdata/pcaps"

func TestPOP3(t *testing.T) {
	var msgs []*textconn.Message
	var logins []*textconn.Login
	c := NewConn(textconn.Events{
		Message: func(m *textconn.Message) { msgs = append(msgs, m) },
		Login:   func(l *textconn.Login) { logins = append(logins, l) },
	}, 1<<20)
	for i, p := range []string{
		"+OK pop.example.org ready\r\n", "USER bob\r\n", "+OK\r\n", "PASS wrong\r\n", "-ERR no\r\n",
		"USER bob\r\nPASS hunter2\r\n", "+OK\r\n+OK logged in\r\n", "LIST\r\nRETR 1\r\nTOP 2 0\r\n",
		"+OK 2 messages\r\n1 100\r\n2 200\r\n.\r\n+OK\r\nSubject: one\r\n\r\n..body\r\n.\r\n+OK\r\nSubject: two\r\n\r\n.\r\n",
		"APOP alice 1234abcd\r\n", "-ERR bad\r\n",
	} {
		c.Data(i%2 == 1, []byte(p), time.Time{})
	}
	c.Close(time.Time{})
	if len(logins) != 3 || logins[0].Result != textconn.Refused || logins[1].User != "bob" || logins[1].PassLen != 7 ||
		logins[1].Result != textconn.Accepted || logins[2].Mechanism != "APOP" || logins[2].PassLen != 0 || logins[2].Result != textconn.Refused {
		t.Errorf("logins %+v %+v %+v", logins[0], logins[1], logins[2])
	}
	if len(msgs) != 2 || string(msgs[0].Raw) != "Subject: one\r\n\r\n.body\r\n" || msgs[0].Command != "RETR" || msgs[0].User != "bob" ||
		msgs[1].Command != "TOP" || string(msgs[1].Raw) != "Subject: two\r\n\r\n" {
		t.Errorf("messages %+v", msgs)
	}
}

func FuzzConn(f *testing.F) {
	for _, file := range []string{"pop3/pop3.pcap", "pop3/pop3_input.pcap", "pop3/pop3-starttls.pcap"} {
		for i, s := range pcaptest.Segments(f, filepath.Join(pcapRoot, file)) {
			if i > 30 {
				break
			}
			f.Add(s.Data, s.FromClient, uint8(i%7))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, fromClient bool, split uint8) {
		c := NewConn(textconn.Events{Message: func(m *textconn.Message) {
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
		if len(c.pending) > MaxPending {
			t.Fatal("pending beyond its bound")
		}
	})
}
