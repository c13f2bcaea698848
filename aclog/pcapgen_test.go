package main

// The generated captures against aclog's engine: what make bench measures
// aclog on must be parsed whole.

import (
	"bytes"
	"context"
	"testing"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/aclog/internal/capture"
	"github.com/acstore/acstore/internal/pcapgen"
)

type counter struct {
	tcp, udp, http, dnsq, sni  int
	mails, attachments, logins int
}

func (c *counter) Session(s *audit.Session) {
	if s.Proto == audit.TCP {
		c.tcp++
	} else {
		c.udp++
	}
}
func (c *counter) HTTP(*audit.HTTPRequest) { c.http++ }
func (c *counter) DNS(q *audit.DNSQuery) {
	if q.HasQuery && q.HasResponse {
		c.dnsq++
	}
}
func (c *counter) TLS(h *audit.TLSHandshake) {
	if h.SNI != "" && h.Version == 0x0304 {
		c.sni++
	}
}
func (c *counter) Mail(m *audit.Mail) {
	if m.Message != nil {
		c.mails++
		c.attachments += len(m.Message.Attachments)
	}
}
func (c *counter) Credential(*audit.Credential) { c.logins++ }
func (c *counter) File(*audit.FileTransfer)     {}
func (c *counter) Post(*audit.Post)             {}
func (c *counter) Chat(*audit.Chat)             {}

// parse runs a capture through the engine and returns what it found and
// its counters.
func parse(t *testing.T, capt []byte) (*counter, audit.Stats) {
	t.Helper()
	src, err := capture.NewReader("generated", bytes.NewReader(capt))
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	e, err := audit.New(audit.DefaultConfig(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Run(context.Background(), src, e); err != nil {
		t.Fatal(err)
	}
	e.Close()
	return c, e.Stats()
}

// TestGeneratedCaptureParses: every session the generator wrote is found by
// the engine, with every request, query and server name.
func TestGeneratedCaptureParses(t *testing.T) {
	var buf bytes.Buffer
	st, err := pcapgen.Write(&buf, pcapgen.Config{Seed: 1, Packets: 30000})
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets < 30000 || st.HTTPRequests == 0 || st.DNSQueries == 0 || st.TLSSessions == 0 {
		t.Fatalf("stats %+v", st)
	}
	c, es := parse(t, buf.Bytes())
	if es.Packets != uint64(st.Packets) || es.Bytes != uint64(st.Bytes) || es.Malformed != 0 || es.TCPGaps != 0 ||
		es.HTTPErrors != 0 || es.DNSErrors != 0 || es.TLSErrors != 0 {
		t.Errorf("engine stats %+v", es)
	}
	if c.http != st.HTTPRequests || c.dnsq != st.DNSQueries || c.sni != st.TLSSessions ||
		c.tcp != st.HTTPSessions+st.TLSSessions || c.udp != st.DNSQueries {
		t.Errorf("engine found %+v, generator wrote %+v", *c, st)
	}
}

// TestGeneratedMailParses: every message of the mail mode is found, with
// its attachment.
func TestGeneratedMailParses(t *testing.T) {
	var buf bytes.Buffer
	st, err := pcapgen.Write(&buf, pcapgen.Config{Seed: 2, Packets: 20000, Mail: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Mails == 0 || st.SMTPSessions == 0 || st.HTTPRequests != 0 {
		t.Fatalf("stats %+v", st)
	}
	c, es := parse(t, buf.Bytes())
	if es.Malformed != 0 || es.TCPGaps != 0 || es.TextErrors != 0 {
		t.Errorf("engine stats %+v", es)
	}
	if c.mails != st.Mails || c.attachments != st.Attachments || c.dnsq != st.DNSQueries {
		t.Errorf("engine found %+v, generator wrote %+v", *c, st)
	}
}
