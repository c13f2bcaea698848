package ftp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	ctlClient = netip.MustParseAddrPort("10.0.0.2:40000")
	ctlServer = netip.MustParseAddrPort("203.0.113.1:21")
	t0        = time.Unix(1_700_000_000, 0)
)

// session drives one control connection through the parser, wired as the
// audit engine wires it, and its data connections through Expectations.
type session struct {
	t    *testing.T
	x    Expectations
	c    *Control
	conn *Conn
	data *Data
	got  []string
	now  time.Time
}

func newSession(t *testing.T, maxContent int) *session {
	s := &session{t: t, now: t0}
	s.c = NewControl(maxContent, func(x *Transfer) {
		s.got = append(s.got, fmt.Sprintf("%s %s %s up=%v reply=%d size=%d %q cut=%v nodata=%v",
			x.Time.Sub(t0), x.Verb, x.Name, x.Upload, x.Reply, x.Size, x.Content, x.Cut, x.NoData))
	})
	s.conn = NewConn(Handler{
		Expect: func(e Expect) {
			if !s.x.Add(s.c, e, ctlServer, s.now) {
				t.Errorf("expectation dropped")
			}
		},
		Start: s.c.Start,
		Done:  s.c.Replied,
	})
	return s
}

// step runs one step: "C line" and "S line" on the control connection,
// "open A B" (a data connection from A to B; "open! A B" must not match),
// "data TEXT", "gap N", "end", "close"; "+N" moves the clock N seconds.
func (s *session) step(st string) {
	verb, arg, _ := strings.Cut(st, " ")
	switch verb {
	case "C", "S":
		s.conn.Data(verb == "C", []byte(arg+"\r\n"), s.now)
	case "open", "open!":
		a, b, _ := strings.Cut(arg, " ")
		ctl, swapped := s.x.Match(netip.MustParseAddrPort(a), netip.MustParseAddrPort(b))
		if (ctl != nil) != (verb == "open") {
			s.t.Fatalf("%s: matched %v", st, ctl != nil)
		}
		if ctl != nil {
			if swapped {
				s.t.Logf("%s: announced by the connecting side", st)
			}
			s.data = ctl.Attach()
		}
	case "data":
		s.data.Add([]byte(arg))
	case "gap":
		n, _ := strconv.Atoi(arg)
		s.data.Gap(n)
	case "end":
		s.c.End(s.data)
	case "close":
		s.conn.Close(s.now)
		s.c.Close()
	default:
		n, _ := strconv.Atoi(verb)
		s.now = s.now.Add(time.Duration(n) * time.Second)
	}
}

func TestTransfers(t *testing.T) {
	pasv := []string{"C PASV", "S 227 Entering Passive Mode (10,0,0,1,4,1)."}
	tests := []struct {
		name       string
		maxContent int
		steps      []string
		want       []string
	}{
		{"passive RETR", 1 << 20, append(pasv, "C RETR a.txt", "S 150 Opening data connection", "+1",
			"open 10.0.0.2:5000 10.0.0.1:1025", "data hello", "end", "S 226 done", "close"),
			[]string{`0s RETR a.txt up=false reply=226 size=5 "hello" cut=false nodata=false`}},
		{"NATed server: the public address matches", 1 << 20, append(pasv, "C RETR a.txt",
			"open 10.0.0.2:5000 203.0.113.1:1025", "data hi", "S 226 done", "end", "close"),
			[]string{`0s RETR a.txt up=false reply=226 size=2 "hi" cut=false nodata=false`}},
		{"active STOR, reply before the data ends", 1 << 20, []string{"C PORT 10,0,0,2,1,2", "S 200 ok", "C STOR b.bin",
			"S 150 go", "open 203.0.113.1:20 10.0.0.2:258", "data 12345", "S 226 done", "data 678", "end", "close"},
			[]string{`0s STOR b.bin up=true reply=226 size=8 "12345678" cut=false nodata=false`}},
		{"data connection before its command", 1 << 20, append(pasv, "open 10.0.0.2:5000 10.0.0.1:1025", "data x",
			"C RETR c", "S 226 done", "end", "close"),
			[]string{`0s RETR c up=false reply=226 size=1 "x" cut=false nodata=false`}},
		{"no data connection: the announced size", 1 << 20, []string{"C RETR big.iso",
			"S 150 Opening BINARY mode data connection for big.iso (42 bytes).", "S 226 done", "close"},
			[]string{`0s RETR big.iso up=false reply=226 size=42 "" cut=true nodata=true`}},
		{"listings are not files", 1 << 20, append(pasv, "C LIST", "S 150 here", "open 10.0.0.2:5000 10.0.0.1:1025",
			"data a.txt", "end", "S 226 done", "close"), nil},
		{"content capped, bytes lost", 3, append(pasv, "C STOR d", "open 10.0.0.2:5000 10.0.0.1:1025",
			"data hello", "gap 10", "end", "S 226 done", "close"),
			[]string{`0s STOR d up=true reply=226 size=15 "hel" cut=true nodata=false`}},
		{"connection closed mid-transfer", 1 << 20, append(pasv, "C RETR e", "open 10.0.0.2:5000 10.0.0.1:1025",
			"data part", "close"),
			[]string{`0s RETR e up=false reply=0 size=4 "part" cut=true nodata=false`}},
		{"the next command ends an unanswered transfer", 1 << 20, []string{"C RETR f", "+2", "C STOR g", "S 550 no", "S 226 ok", "close"},
			[]string{`0s RETR f up=false reply=0 size=0 "" cut=false nodata=true`, `2s STOR g up=true reply=226 size=0 "" cut=false nodata=true`}},
		{"EPSV: the server's address", 1 << 20, []string{"C EPSV", "S 229 Entering Extended Passive Mode (|||6446|)",
			"open! 10.0.0.2:5000 10.0.0.1:6446", "open 10.0.0.2:5000 203.0.113.1:6446", "C RETR h", "S 226 ok", "end", "close"},
			[]string{`0s RETR h up=false reply=226 size=0 "" cut=false nodata=false`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t, tt.maxContent)
			for _, st := range tt.steps {
				s.step(st)
			}
			if strings.Join(s.got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(s.got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestExpectations(t *testing.T) {
	var x Expectations
	c := NewControl(0, func(*Transfer) {})
	at := netip.MustParseAddrPort("10.0.0.1:1025")
	if !x.Add(c, Expect{Addr: at}, ctlServer, t0) || x.Len() != 1 {
		t.Fatalf("%d expected", x.Len())
	}
	x.Expire(t0.Add(ExpectTimeout))
	if x.Len() != 1 {
		t.Fatal("expired at the timeout, not after it")
	}
	x.Expire(t0.Add(ExpectTimeout + time.Second))
	if x.Len() != 0 {
		t.Fatal("not expired after the timeout")
	}
	for i := range MaxExpected {
		if !x.Add(c, Expect{Addr: netip.AddrPortFrom(at.Addr(), uint16(i))}, ctlServer, t0) {
			t.Fatalf("dropped the %dth", i)
		}
	}
	if x.Add(c, Expect{Addr: ctlClient}, ctlServer, t0) || x.Len() != MaxExpected {
		t.Fatalf("past the bound: %d expected", x.Len())
	}
	if ctl, swapped := x.Match(netip.AddrPortFrom(at.Addr(), 7), ctlServer); ctl != c || !swapped || x.Len() != MaxExpected-1 {
		t.Fatalf("match of the announced side as client: %v %v, %d left", ctl, swapped, x.Len())
	}
	x.Reset()
	if ctl, _ := x.Match(ctlClient, at); ctl != nil || x.Len() != 0 {
		t.Fatal("Reset kept expectations")
	}
}
