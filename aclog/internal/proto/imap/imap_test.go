package imap

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/pcaptest"
	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

const pcapRoot = "../../../testdata/pcaps"

func TestIMAP(t *testing.T) {
	var msgs []*textconn.Message
	var logins []*textconn.Login
	c := NewConn(textconn.Events{
		Message: func(m *textconn.Message) { msgs = append(msgs, m) },
		Login:   func(l *textconn.Login) { logins = append(logins, l) },
	}, 1<<20)
	msg := "Subject: hi\r\n\r\nbody\r\n"
	for i, p := range []string{
		"* OK imap.example.org ready\r\n", "a1 LOGIN {5}\r\n",
		"+ go\r\n", "alice \"pa\\\"ss\"\r\n",
		"a1 OK done\r\n", "a2 UID FETCH 7 (BODY.PEEK[])\r\n",
		"* 7 FETCH (UID 7 BODY[] {" + itoa(len(msg)) + "}\r\n" + msg + ")\r\na2 OK\r\n", "a3 APPEND Sent (\\Seen) {" + itoa(len(msg)) + "+}\r\n" + msg + "\r\n",
		"a3 OK\r\n", "a4 FETCH 1 (BODY[TEXT])\r\n",
		"* 1 FETCH (BODY[TEXT] {3}\r\nabc)\r\na4 OK\r\n", "a5 AUTHENTICATE PLAIN\r\n",
		"+ \r\n", "AGJvYgBzZWNyZXQ=\r\n",
		"a5 NO bad\r\n", "",
	} {
		c.Data(i%2 == 1, []byte(p), time.Time{})
	}
	c.Close(time.Time{})
	if len(logins) != 2 || logins[0].User != "alice" || logins[0].PassLen != 5 || logins[0].Result != textconn.Accepted ||
		logins[1].User != "bob" || logins[1].PassLen != 6 || logins[1].Result != textconn.Refused {
		for _, l := range logins {
			t.Logf("%+v", *l)
		}
		t.Errorf("%d logins", len(logins))
	}
	if len(msgs) != 2 || string(msgs[0].Raw) != msg || msgs[0].Section != "BODY[]" || msgs[0].Send || msgs[0].User != "alice" ||
		string(msgs[1].Raw) != msg || !msgs[1].Send || msgs[1].Command != "APPEND" {
		t.Errorf("messages %+v", msgs)
	}
}

func itoa(n int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func FuzzConn(f *testing.F) {
	for _, file := range []string{"imap/imap.pcap", "imap/imap-starttls.pcap"} {
		for i, s := range pcaptest.Segments(f, filepath.Join(pcapRoot, file)) {
			if i > 40 {
				break
			}
			f.Add(s.Data, s.FromClient, uint8(i%7))
		}
	}
	f.Add([]byte("a APPEND x {99999999999}\r\n* 1 FETCH (RFC822 {5}\r\nab"), true, uint8(9))
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
		if len(c.pending) > MaxPending || (c.partial != nil && len(c.partial.args) > maxArgs) {
			t.Fatal("state beyond its bounds")
		}
	})
}
