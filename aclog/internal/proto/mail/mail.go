// Package mail parses an Internet message (RFC 5322 with MIME) as it was
// carried by SMTP, POP3 or IMAP into what the mail table keeps: the
// addresses, subject, date, Message-ID, mailer and priority from the header
// (RFC 2047 encoded words decoded and every charset converted to UTF-8),
// the text body decoded from base64 or quoted-printable, and the
// attachments with their names, types, sizes and decoded content.
//
// Parsing never fails: a message that is cut, header-only (an IMAP header
// fetch, a POP3 TOP) or malformed yields what could be read, with flags
// saying so. Every size is bounded by Limits.
package mail

import (
	"bytes"
	netmail "net/mail"
	"strings"
	"time"
)

// Limits bound what a parse keeps.
type Limits struct {
	MaxBody       int // decoded text body kept, bytes
	MaxAttachment int // decoded content kept per attachment, bytes
	MaxParts      int // MIME parts looked at
	MaxDepth      int // nesting of multiparts
}

// DefaultLimits: 64 KB of text, 10 MB per attachment, 200 parts, depth 10.
var DefaultLimits = Limits{MaxBody: 64 << 10, MaxAttachment: 10 << 20, MaxParts: 200, MaxDepth: 10}

// Address is one mailbox; Name is decoded to UTF-8.
type Address struct {
	Name string
	Addr string
}

// String renders the address as `Name <addr>`, or addr alone.
func (a Address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	if a.Addr == "" {
		return a.Name
	}
	return a.Name + " <" + a.Addr + ">"
}

// Attachment is one attached (or inline named) part.
type Attachment struct {
	Name    string // decoded file name; may be empty for an inline part
	Type    string // media type, lower case
	Size    int64  // decoded size, whether or not all of it was kept
	Content []byte // decoded content, at most Limits.MaxAttachment
	Cut     bool   // Content is shorter than Size (cap or message cut)
	Inline  bool
}

// IsImage reports whether the attachment is an image.
func (a *Attachment) IsImage() bool { return strings.HasPrefix(a.Type, "image/") }

// Message is what a parse found.
type Message struct {
	From, To, Cc []Address
	// RawFrom etc. are the header values decoded when they did not parse
	// as address lists.
	Subject   string
	MessageID string
	InReplyTo string
	Date      time.Time // zero when absent or unparsable
	Mailer    string    // X-Mailer, else User-Agent
	Priority  int       // 1 (highest) .. 5 (lowest); 0 when not given

	Body     string // text body, UTF-8, at most Limits.MaxBody bytes
	BodyType string // "text/plain" or "text/html" (HTML is kept as is)
	BodyCut  bool   // Body was cut at the cap

	Attachments []Attachment

	Size       int  // bytes of the raw message given to Parse
	HeaderOnly bool // no body followed the header
	Malformed  bool // some part could not be parsed; what was read is kept
}

// Parse parses a raw message. It never fails; see Message.Malformed.
func Parse(raw []byte, lim Limits) *Message {
	if lim.MaxParts <= 0 {
		lim = DefaultLimits
	}
	m := &Message{Size: len(raw)}
	hdr, body, hasBody := splitHeader(raw)
	h := parseHeader(hdr)
	m.HeaderOnly = !hasBody || len(bytes.TrimSpace(body)) == 0
	m.From = addresses(h.get("From"))
	m.To = addresses(h.getAll("To"))
	m.Cc = addresses(h.getAll("Cc"))
	m.Subject = DecodeHeader(h.get("Subject"))
	m.MessageID = strings.TrimSpace(h.get("Message-Id"))
	m.InReplyTo = strings.TrimSpace(h.get("In-Reply-To"))
	if d := h.get("Date"); d != "" {
		if t, err := netmail.ParseDate(d); err == nil {
			m.Date = t
		}
	}
	m.Mailer = DecodeHeader(h.get("X-Mailer"))
	if m.Mailer == "" {
		m.Mailer = DecodeHeader(h.get("User-Agent"))
	}
	m.Priority = priority(h)
	if !m.HeaderOnly {
		// A header alone (POP3 TOP 0, IMAP BODY[HEADER]) has no MIME
		// tree to walk: a multipart type without its parts is not a
		// malformed message.
		p := &parser{m: m, lim: lim}
		p.entity(h, body, 0)
	}
	return m
}
