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
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
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

// splitHeader splits at the first empty line. A message without one is
// all header.
func splitHeader(raw []byte) (hdr, body []byte, hasBody bool) {
	// An empty line at the very start: no header at all.
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return nil, raw[2:], true
	}
	if bytes.HasPrefix(raw, []byte("\n")) {
		return nil, raw[1:], true
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(raw) && raw[i+1] == '\n':
			return raw[:i+1], raw[i+2:], true
		case i+2 < len(raw) && raw[i+1] == '\r' && raw[i+2] == '\n':
			return raw[:i+1], raw[i+3:], true
		}
	}
	return raw, nil, false
}

// header is a parsed header block: names canonicalised, values unfolded,
// in order.
type header struct {
	keys, vals []string
}

// maxFields bounds the fields kept of one header block.
const maxFields = 1000

func parseHeader(b []byte) header {
	var h header
	for len(b) > 0 && len(h.keys) < maxFields {
		var line []byte
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(h.vals) > 0 {
			// Folded continuation: unfolding removes the line break only
			// (RFC 5322 2.2.3), the white space stays.
			if len(h.vals[len(h.vals)-1]) < 1<<16 {
				h.vals[len(h.vals)-1] += string(line)
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		h.keys = append(h.keys, canonical(string(bytes.TrimSpace(name))))
		h.vals = append(h.vals, string(bytes.TrimLeft(value, " \t")))
	}
	for i, v := range h.vals {
		h.vals[i] = strings.TrimSpace(v)
	}
	return h
}

func canonical(s string) string {
	b := []byte(strings.ToLower(s))
	up := true
	for i, c := range b {
		if up && 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
		up = c == '-'
	}
	return string(b)
}

func (h *header) get(name string) string {
	for i, k := range h.keys {
		if k == name {
			return h.vals[i]
		}
	}
	return ""
}

// getAll joins repeated fields (some mailers send To twice).
func (h *header) getAll(name string) string {
	var out []string
	for i, k := range h.keys {
		if k == name && h.vals[i] != "" {
			out = append(out, h.vals[i])
		}
	}
	return strings.Join(out, ", ")
}

var wordDecoder = &mime.WordDecoder{CharsetReader: CharsetReader}

// DecodeHeader decodes RFC 2047 encoded words into UTF-8; a value that
// cannot be decoded is returned as it is.
func DecodeHeader(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	d, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// CharsetReader converts from a named charset to UTF-8 (any charset the
// WHATWG or IANA registries name: GBK, GB18030, Big5, ISO-8859-x,
// windows-125x, Shift_JIS, EUC-KR, ...).
func CharsetReader(charset string, r io.Reader) (io.Reader, error) {
	enc := lookup(charset)
	if enc == nil {
		return nil, errUnknownCharset
	}
	return enc.NewDecoder().Reader(r), nil
}

type charsetError string

func (e charsetError) Error() string { return string(e) }

const errUnknownCharset = charsetError("unknown charset")

func lookup(charset string) encoding.Encoding {
	charset = strings.ToLower(strings.Trim(strings.TrimSpace(charset), `"'`))
	switch charset {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return encoding.Nop
	case "gb2312", "x-gbk", "cp936":
		charset = "gbk"
	}
	if e, err := htmlindex.Get(charset); err == nil && e != nil {
		return e
	}
	if e, err := ianaindex.IANA.Encoding(charset); err == nil && e != nil {
		return e
	}
	return nil
}

// ToUTF8 converts text in charset to UTF-8; text in an unknown charset, or
// that does not decode, is returned as it is.
func ToUTF8(b []byte, charset string) string {
	enc := lookup(charset)
	if enc == nil || enc == encoding.Nop {
		return string(b)
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return string(b)
	}
	return string(out)
}

// addresses parses an address list, decoding names; a list that does not
// parse is split on commas and kept as decoded text.
func addresses(v string) []Address {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	p := netmail.AddressParser{WordDecoder: wordDecoder}
	if list, err := p.ParseList(v); err == nil {
		out := make([]Address, 0, len(list))
		for _, a := range list {
			out = append(out, Address{Name: a.Name, Addr: a.Address})
		}
		return out
	}
	var out []Address
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if a, err := p.Parse(part); err == nil {
			out = append(out, Address{Name: a.Name, Addr: a.Address})
			continue
		}
		a := Address{Name: DecodeHeader(part)}
		if i, j := strings.LastIndexByte(part, '<'), strings.LastIndexByte(part, '>'); i >= 0 && j > i {
			a.Addr = strings.TrimSpace(part[i+1 : j])
			a.Name = strings.Trim(strings.TrimSpace(DecodeHeader(part[:i])), `"`)
		} else if strings.Contains(part, "@") && !strings.ContainsAny(part, " \t") {
			a = Address{Addr: part}
		}
		out = append(out, a)
	}
	return out
}

// JoinAddresses renders a list as text, comma separated.
func JoinAddresses(as []Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func priority(h header) int {
	if v := h.get("X-Priority"); v != "" {
		v = strings.TrimSpace(v)
		if n, err := strconv.Atoi(strings.Fields(v + " ")[0]); err == nil && n >= 1 && n <= 5 {
			return n
		}
	}
	for _, name := range []string{"Importance", "X-Msmail-Priority", "Priority"} {
		switch strings.ToLower(strings.TrimSpace(h.get(name))) {
		case "high", "urgent":
			return 1
		case "normal":
			return 3
		case "low", "non-urgent":
			return 5
		}
	}
	return 0
}

// parser walks the MIME tree of one message.
type parser struct {
	m     *Message
	lim   Limits
	parts int
	// text and html keep the first text/plain and text/html parts.
	haveText bool
}

// entity handles one MIME entity: its header h and body.
func (p *parser) entity(h header, body []byte, depth int) {
	p.parts++
	if p.parts > p.lim.MaxParts {
		p.m.Malformed = true
		return
	}
	ctype := h.get("Content-Type")
	mt, params, err := mime.ParseMediaType(ctype)
	if ctype == "" {
		mt, params = "text/plain", map[string]string{}
	} else if err != nil {
		// A bad parameter list still names the type.
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ctype, ";", 2)[0]))
		if params == nil {
			params = map[string]string{}
		}
	}
	disp, dparams, _ := mime.ParseMediaType(h.get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	name = DecodeHeader(name)
	cte := strings.ToLower(strings.TrimSpace(h.get("Content-Transfer-Encoding")))

	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if depth >= p.lim.MaxDepth || params["boundary"] == "" {
			p.m.Malformed = true
			return
		}
		p.multipart(body, params["boundary"], depth)
		return
	case disp == "attachment" || name != "" || (mt == "message/rfc822" && depth > 0) ||
		(!strings.HasPrefix(mt, "text/") && depth > 0) || (p.haveText && disp != "inline" && strings.HasPrefix(mt, "text/") && mt != "text/html"):
		p.attachment(name, mt, disp == "inline", cte, body)
		return
	case strings.HasPrefix(mt, "text/") || mt == "":
		p.text(mt, params["charset"], cte, body)
		return
	}
	// A top-level body of another type (a bare application/pdf mail).
	p.attachment(name, mt, false, cte, body)
}

func (p *parser) multipart(body []byte, boundary string, depth int) {
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := r.NextRawPart()
		if err != nil {
			if err != io.EOF {
				p.m.Malformed = true
			}
			return
		}
		// The part's header as multipart read it, back into ours.
		var h header
		for k, vs := range part.Header {
			for _, v := range vs {
				h.keys = append(h.keys, canonical(k))
				h.vals = append(h.vals, v)
			}
		}
		// The body is bounded by the message, which the caller bounded.
		b, err := io.ReadAll(part)
		if err != nil {
			p.m.Malformed = true
		}
		p.entity(h, b, depth+1)
		if err != nil || p.parts > p.lim.MaxParts {
			return
		}
	}
}

// decode undoes the transfer encoding, keeping at most limit bytes; it
// returns the decoded size (counted over all of it) and whether it was cut.
func decode(cte string, body []byte, limit int) (out []byte, size int64, cut bool, bad bool) {
	var r io.Reader
	switch cte {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &base64Cleaner{b: body})
	case "quoted-printable":
		r = quotedprintable.NewReader(bytes.NewReader(body))
	default:
		r = bytes.NewReader(body)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, int64(limit)))
	size = n
	if n == int64(limit) {
		rest, err2 := io.Copy(io.Discard, r)
		size += rest
		cut = rest > 0
		if err2 != nil {
			err = err2
		}
	}
	return buf.Bytes(), size, cut, err != nil
}

// base64Cleaner drops everything that is not base64 alphabet (line breaks,
// spaces) and stops at the first padding run, so a lenient decode gets
// what a mail reader would.
type base64Cleaner struct {
	b   []byte
	end bool
}

func (c *base64Cleaner) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(c.b) > 0 {
		ch := c.b[0]
		c.b = c.b[1:]
		switch {
		case 'A' <= ch && ch <= 'Z', 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '+', ch == '/':
			if c.end {
				// Data after padding: a second encoded block; stop.
				c.b = nil
				return n, io.EOF
			}
			p[n] = ch
			n++
		case ch == '=':
			c.end = true
			p[n] = ch
			n++
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (p *parser) text(mt, charset, cte string, body []byte) {
	if p.haveText || (mt == "text/html" && p.m.BodyType == "text/html") {
		return
	}
	// Decode at most a little more than the cap: charset conversion can
	// grow or shrink text.
	raw, _, cut, bad := decode(cte, body, p.lim.MaxBody*2)
	if bad {
		p.m.Malformed = true
	}
	s := ToUTF8(raw, charset)
	if len(s) > p.lim.MaxBody {
		s = truncateUTF8(s, p.lim.MaxBody)
		cut = true
	}
	if mt != "text/html" {
		p.haveText = true
		mt = "text/plain"
	}
	p.m.Body, p.m.BodyType, p.m.BodyCut = s, mt, cut
}

func (p *parser) attachment(name, mt string, inline bool, cte string, body []byte) {
	content, size, cut, bad := decode(cte, body, p.lim.MaxAttachment)
	if bad {
		p.m.Malformed = true
	}
	if mt == "" {
		mt = "application/octet-stream"
	}
	p.m.Attachments = append(p.m.Attachments, Attachment{
		Name: name, Type: mt, Size: size, Content: content, Cut: cut, Inline: inline,
	})
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
