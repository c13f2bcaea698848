package audit

import (
	"os"
	"testing"
)

func TestDebugDump(t *testing.T) {
	f := os.Getenv("ACLOG_DUMP")
	if f == "" {
		t.Skip("set ACLOG_DUMP=file.pcap")
	}
	c, st := runFile(t, f, DefaultConfig())
	for _, s := range c.sessions {
		t.Logf("SESSION %+v", *s)
	}
	for _, s := range c.http {
		t.Logf("HTTP %+v", *s)
	}
	for _, s := range c.dns {
		t.Logf("DNS %+v", *s)
	}
	for _, s := range c.tls {
		t.Logf("TLS %+v", *s)
	}
	t.Logf("STATS %+v", st)
}
