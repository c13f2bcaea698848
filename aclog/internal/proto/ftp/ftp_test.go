package ftp

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/pcaptest"
	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

const pcapRoot = "../../../testdata/pcaps"

func TestFTP(t *testing.T) {
	var cmds []*Command
	var logins []*textconn.Login
	var expects []Expect
	var starts, dones int
	c := NewConn(Handler{
		Command: func(x *Command) { cmds = append(cmds, x) },
		Login:   func(l *textconn.Login) { logins = append(logins, l) },
		Expect:  func(x Expect) { expects = append(expects, x) },
		Start:   func(*Command) { starts++ },
		Done:    func(*Command) { dones++ },
	})
	for i, p := range []string{
		"220-Welcome\r\n220-more\r\n220 ftp.example.org FTP\r\n", "USER joe\r\n", "331 pass\r\n", "PASS secret\r\n",
		"230 ok\r\n", "PASV\r\n", "227 Entering Passive Mode (10,0,0,1,4,1).\r\n", "RETR /pub/a.txt\r\n",
		"150 Opening BINARY mode data connection for a.txt (42 bytes).\r\n226 done\r\n", "EPSV\r\n",
		"229 Entering Extended Passive Mode (|||6446|)\r\n", "EPRT |2|::1|5282|\r\nPORT 10,0,0,2,1,2\r\nSTOR b\r\n",
		"200 ok\r\n200 ok\r\n150 go\r\n451 aborted\r\n", "",
	} {
		c.Data(i%2 == 1, []byte(p), time.Time{})
	}
	c.Close(time.Time{})
	if len(logins) != 1 || logins[0].User != "joe" || logins[0].PassLen != 6 || logins[0].Result != textconn.Accepted {
		t.Errorf("logins %+v", logins)
	}
	want := []Expect{
		{Addr: netip.MustParseAddrPort("10.0.0.1:1025"), Passive: true},
		{Addr: netip.AddrPortFrom(netip.Addr{}, 6446), Passive: true},
		{Addr: netip.MustParseAddrPort("[::1]:5282")},
		{Addr: netip.MustParseAddrPort("10.0.0.2:258")},
	}
	if len(expects) != len(want) {
		t.Fatalf("expects %+v", expects)
	}
	for i := range want {
		if expects[i] != want[i] {
			t.Errorf("expect %d: %+v, want %+v", i, expects[i], want[i])
		}
	}
	if len(cmds) != 8 || cmds[1].Arg != "<6 bytes>" || cmds[3].Verb != "RETR" || cmds[3].Reply != 226 || cmds[3].Announced != 42 ||
		cmds[7].Verb != "STOR" || cmds[7].Reply != 451 || starts != 2 || dones != 2 {
		for _, x := range cmds {
			t.Logf("%+v", *x)
		}
		t.Errorf("%d commands, %d starts, %d dones", len(cmds), starts, dones)
	}
}

func FuzzConn(f *testing.F) {
	for _, file := range []string{"ftp/ipv4.pcap", "ftp/ipv6.pcap", "ftp/bruteforce.pcap"} {
		for i, s := range pcaptest.Segments(f, filepath.Join(pcapRoot, file)) {
			if i > 30 {
				break
			}
			f.Add(s.Data, s.FromClient, uint8(i%7))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, fromClient bool, split uint8) {
		c := NewConn(Handler{Command: func(*Command) {}, Login: func(*textconn.Login) {}, Expect: func(Expect) {}, Start: func(*Command) {}, Done: func(*Command) {}})
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
