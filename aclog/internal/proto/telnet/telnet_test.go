package telnet

import (
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

func TestLogin(t *testing.T) {
	var got []*textconn.Login
	c := NewConn(func(l *textconn.Login) { got = append(got, l) })
	send := func(fromClient bool, s string) { c.Data(fromClient, []byte(s), time.Time{}) }
	send(false, "\xff\xfd\x18\xff\xfb\x01Ubuntu 22.04\r\nhost login: ")
	send(true, "\xff\xfc\x18")
	for _, ch := range "roott\x7f" {
		send(true, string(ch))
		send(false, string(ch)) // echo
	}
	send(true, "\r\n")
	send(false, "\r\nPassword: ")
	send(true, "wrong\r\n")
	send(false, "\r\nLogin incorrect\r\nhost login: ")
	send(true, "root\r\n")
	send(false, "Password: ")
	send(true, "s3cret\r\n")
	send(false, "\r\nLast login: Mon\r\nroot@host:~# ")
	c.Close(time.Time{})
	if len(got) != 2 || got[0].User != "root" || got[0].PassLen != 5 || got[0].Result != textconn.Refused ||
		got[1].User != "root" || got[1].PassLen != 6 || got[1].Result != textconn.Accepted {
		for _, l := range got {
			t.Logf("%+v", *l)
		}
		t.Errorf("%d logins", len(got))
	}
}

func FuzzConn(f *testing.F) {
	f.Add([]byte("login: "), []byte("user\r\n"), []byte("Password: "), []byte("x\r\n"))
	f.Fuzz(func(t *testing.T, a, b, c2, d []byte) {
		c := NewConn(func(l *textconn.Login) {
			if len(l.User) > maxField || l.PassLen > maxField {
				t.Fatalf("login %+v beyond bounds", l)
			}
		})
		c.Data(false, a, time.Time{})
		c.Data(true, b, time.Time{})
		c.Data(false, c2, time.Time{})
		c.Data(true, d, time.Time{})
		c.Data(false, a, time.Time{})
		c.Close(time.Time{})
		if len(c.prompt) > maxWatch+len(a)+len(c2) {
			t.Fatal("prompt buffer beyond its bound")
		}
	})
}
