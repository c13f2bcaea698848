package mail

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"
)

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
