package audit

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/acstore/acstore/aclog/internal/capture"
)

// collector is a Sink that keeps everything.
type collector struct {
	sessions []*Session
	http     []*HTTPRequest
	dns      []*DNSQuery
	tls      []*TLSHandshake
	mail     []*Mail
	creds    []*Credential
	files    []*FileTransfer
	posts    []*Post
	chats    []*Chat
}

// The per-session records are the engine's once the call returns (see
// Sink): the collector keeps copies.

func (c *collector) Session(s *Session)  { v := *s; c.sessions = append(c.sessions, &v) }
func (c *collector) HTTP(r *HTTPRequest) { v := *r; c.http = append(c.http, &v) }
func (c *collector) DNS(q *DNSQuery) {
	v := *q
	v.Answers = slices.Clone(q.Answers)
	c.dns = append(c.dns, &v)
}
func (c *collector) TLS(h *TLSHandshake) {
	v := *h
	v.ALPN = slices.Clone(h.ALPN)
	c.tls = append(c.tls, &v)
}
func (c *collector) Mail(m *Mail)             { c.mail = append(c.mail, m) }
func (c *collector) Credential(x *Credential) { c.creds = append(c.creds, x) }
func (c *collector) File(f *FileTransfer)     { c.files = append(c.files, f) }
func (c *collector) Post(p *Post)             { c.posts = append(c.posts, p) }
func (c *collector) Chat(x *Chat)             { c.chats = append(c.chats, x) }

// runFile feeds a capture through a fresh engine with cfg and closes it.
func runFile(t testing.TB, path string, cfg Config) (*collector, Stats) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c := &collector{}
	e, err := New(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), src, e); err != nil && !errors.Is(err, capture.ErrTruncated) {
		t.Fatalf("%s: %v", path, err)
	}
	e.Close()
	return c, e.Stats()
}
