package dns

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/acstore/acstore/aclog/internal/pcaptest"
)

const pcapRoot = "../../../testdata/pcaps"

// payloads returns the UDP payloads of a capture.
func payloads(t testing.TB, file string) [][]byte {
	var out [][]byte
	for _, s := range pcaptest.Segments(t, filepath.Join(pcapRoot, file)) {
		if s.UDP {
			out = append(out, s.Data)
		}
	}
	return out
}

func TestParseRealMessages(t *testing.T) {
	tests := []struct {
		file     string
		index    int
		response bool
		id       uint16
		rcode    uint8
		question Question
		answers  []string // "TYPE data"
	}{
		{"dns/dns-udp.pcap", 0, false, 57401, 0, Question{"www.github.com", TypeA, 1}, nil},
		{"dns/dns-udp.pcap", 1, true, 57401, 0, Question{"www.github.com", TypeA, 1},
			[]string{"CNAME github.com", "A 192.30.252.128"}},
		{"dns/dns-mx.pcap", 1, true, 0, 0, Question{"mx.com", TypeMX, 1}, nil},
		{"dns/dns-punycode.pcap", 1, true, 35828, 0, Question{"xn--80a0adav.xn--80ao21a", TypeSOA, 1},
			[]string{"SOA hidden-master.yahoo.com hostmaster.yahoo-inc.com 2018030201 28800 7200 604800 600"}},
		{"dns/dns53.pcap", 0, true, 25701, 0, Question{"us.v27.distributed.net", TypeA, 1},
			[]string{"A 206.109.64.186", "A 216.1.205.81", "A 205.149.163.211", "A 134.53.131.135",
				"A 134.53.131.192", "A 128.104.18.148", "A 204.152.186.139", "A 63.77.33.226"}}, // Zeek baseline
		{"dns/dns-txt-multiple.pcap", 1, true, 28079, 0, Question{"flkr._domainkey.flickr.com", TypeTXT, 1}, nil},
	}
	for _, tt := range tests {
		p := payloads(t, tt.file)
		var m Message
		if err := Parse(p[tt.index], &m); err != nil {
			t.Errorf("%s[%d]: %v", tt.file, tt.index, err)
			continue
		}
		if m.Response != tt.response || m.RCode != tt.rcode || len(m.Questions) != 1 || m.Questions[0] != tt.question || m.Partial {
			t.Errorf("%s[%d]: %+v", tt.file, tt.index, m)
		}
		if tt.id != 0 && m.ID != tt.id {
			t.Errorf("%s[%d]: id %d, want %d", tt.file, tt.index, m.ID, tt.id)
		}
		if tt.answers != nil {
			var got []string
			for _, a := range m.Answers {
				got = append(got, TypeString(a.Type)+" "+a.Data)
			}
			if !slices.Equal(got, tt.answers) {
				t.Errorf("%s[%d]: answers\n%q\nwant\n%q", tt.file, tt.index, got, tt.answers)
			}
		}
	}
}

func TestParseMX(t *testing.T) {
	var m Message
	if err := Parse(payloads(t, "dns/dns-mx.pcap")[1], &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Answers) == 0 || m.Answers[0].Type != TypeMX || m.Answers[0].Data == "" {
		t.Fatalf("answers %+v", m.Answers)
	}
	t.Logf("MX answer: %s", m.Answers[0].Data)
}

func TestParseEveryCapturedMessage(t *testing.T) {
	// Every DNS payload of the DNS captures must parse.
	for _, f := range []string{"dns/dns-wiresharkrepo.pcap", "dns/dns-two-responses.pcap", "mixed/wikipedia.pcap"} {
		for i, s := range pcaptest.Segments(t, filepath.Join(pcapRoot, f)) {
			if !s.UDP || (s.Src.Port() != 53 && s.Dst.Port() != 53) {
				continue
			}
			var m Message
			if err := Parse(s.Data, &m); err != nil || len(m.Questions) == 0 || m.Partial {
				t.Errorf("%s segment %d: %v %+v", f, i, err, m)
			}
		}
	}
}

func TestParseHostile(t *testing.T) {
	header := func(qd, an uint16) []byte {
		return []byte{0x12, 0x34, 0x81, 0x80, byte(qd >> 8), byte(qd), byte(an >> 8), byte(an), 0, 0, 0, 0}
	}
	tests := []struct {
		name    string
		msg     []byte
		wantErr error
		partial bool
	}{
		{"short", []byte{1, 2, 3}, ErrShort, false},
		{"question past end", append(header(1, 0), 3, 'w', 'w'), ErrMalformed, false},
		{"pointer loop", append(header(1, 0), 0xc0, 12, 0, 1, 0, 1), ErrMalformed, false},
		{"label type 0x40", append(header(1, 0), 0x40, 0, 0, 1, 0, 1), ErrMalformed, false},
		{"answer count lies", append(header(1, 5), 1, 'a', 0, 0, 1, 0, 1), nil, true},
		{"rdlength past end", append(header(0, 1), 0, 0, 1, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 1), nil, true},
		{"root question", append(header(1, 0), 0, 0, 2, 0, 1), nil, false},
	}
	for _, tt := range tests {
		var m Message
		err := Parse(tt.msg, &m)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.wantErr)
		}
		if m.Partial != tt.partial {
			t.Errorf("%s: partial %v", tt.name, m.Partial)
		}
	}
	var m Message
	if err := Parse(append(header(1, 0), 0, 0, 2, 0, 1), &m); err != nil || m.Questions[0].Name != "<Root>" {
		t.Errorf("root: %v %+v", err, m)
	}
}

func TestNameEscaping(t *testing.T) {
	msg := []byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, 'a', '.', 'b', 0x01, 0, 0, 1, 0, 1}
	var m Message
	if err := Parse(msg, &m); err != nil {
		t.Fatal(err)
	}
	if got := m.Questions[0].Name; got != `a\.b\001` {
		t.Errorf("name %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, file := range []string{"dns/dns-udp.pcap", "dns/dns53.pcap", "dns/dns-txt-multiple.pcap", "dns/dns-wiresharkrepo.pcap", "dns/dns-punycode.pcap"} {
		for _, p := range payloads(f, file) {
			f.Add(p)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := Parse(b, &m); err != nil {
			return
		}
		if len(m.Questions) > maxQuestions || len(m.Answers) > maxAnswers {
			t.Fatalf("limits exceeded: %d questions, %d answers", len(m.Questions), len(m.Answers))
		}
		for _, q := range m.Questions {
			if len(q.Name) > maxNameLen+64 {
				t.Fatalf("name of %d bytes", len(q.Name))
			}
		}
		// Reuse must not leak the previous message.
		var again Message
		again.Questions = append(again.Questions, Question{Name: "stale"})
		if err := Parse(b, &again); err != nil || len(again.Questions) != len(m.Questions) {
			t.Fatalf("reparse differs: %v", err)
		}
	})
}
