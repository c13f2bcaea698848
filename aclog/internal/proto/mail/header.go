package mail

import (
	"bytes"
	netmail "net/mail"
	"strconv"
	"strings"
)

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
