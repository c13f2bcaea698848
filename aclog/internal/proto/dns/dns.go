package dns

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Record types with a text rendering of their own.
const (
	TypeA     = 1
	TypeNS    = 2
	TypeCNAME = 5
	TypeSOA   = 6
	TypePTR   = 12
	TypeHINFO = 13
	TypeMX    = 15
	TypeTXT   = 16
	TypeAAAA  = 28
	TypeLOC   = 29
	TypeSRV   = 33
	TypeNAPTR = 35
	TypeDNAME = 39
	TypeOPT   = 41
	TypeDS    = 43
	TypeRRSIG = 46
	TypeNSEC  = 47
	TypeHTTPS = 65
	TypeANY   = 255
)

// Message is the part of a DNS message aclog keeps.
type Message struct {
	ID        uint16
	Response  bool
	Opcode    uint8
	RCode     uint8
	Truncated bool // TC bit
	Questions []Question
	Answers   []RR // answer section only
	// Partial is set when the answer section could not be fully parsed;
	// Answers holds the records before the damage.
	Partial bool

	scratch []byte // names are built here, reused by the next Parse
}

// Question is one entry of the question section.
type Question struct {
	Name  string
	Type  uint16
	Class uint16
}

// RR is one resource record, its data rendered as text.
type RR struct {
	Name  string
	Type  uint16
	Class uint16
	TTL   uint32
	Data  string
}

// Errors returned by Parse. Callers count them; none is fatal.
var (
	ErrShort     = errors.New("dns: message shorter than its header")
	ErrMalformed = errors.New("dns: malformed message")
)

// Limits that keep hostile messages cheap.
const (
	maxQuestions = 16
	maxAnswers   = 64
	maxNameLen   = 255 + 64 // a little slack for escaped characters
	maxPointers  = 32
	maxRDataText = 512
)

// Parse decodes b into m, reusing m's slices. It fails only when the header
// or the question section is unusable.
func Parse(b []byte, m *Message) error { return parse(b, m, "") }

// parse is Parse taking a name the message likely holds (a response's,
// its query's): when it does, the message's names share it instead of
// allocating it again.
func parse(b []byte, m *Message, known string) error {
	*m = Message{Questions: m.Questions[:0], Answers: m.Answers[:0], scratch: m.scratch}
	if len(b) < 12 {
		return ErrShort
	}
	m.ID = binary.BigEndian.Uint16(b[0:2])
	flags := binary.BigEndian.Uint16(b[2:4])
	m.Response = flags&0x8000 != 0
	m.Opcode = uint8(flags>>11) & 0xf
	m.Truncated = flags&0x0200 != 0
	m.RCode = uint8(flags & 0xf)
	qd := int(binary.BigEndian.Uint16(b[4:6]))
	an := int(binary.BigEndian.Uint16(b[6:8]))
	off := 12
	var p parser
	p.msg = b
	if known != "" {
		p.names[0], p.n = known, 1
	}
	p.buf = m.scratch[:0]
	defer func() { m.scratch = p.buf[:0] }()
	off, err := p.questions(m, off, qd)
	if err != nil {
		return err
	}
	p.answers(m, off, an)
	return nil
}

// questions reads qd questions from off, keeping the first maxQuestions,
// and returns the offset after them.
func (p *parser) questions(m *Message, off, qd int) (int, error) {
	b := p.msg
	for i := 0; i < qd; i++ {
		name, n, err := p.name(off)
		if err != nil {
			return 0, fmt.Errorf("%w: question %d: %v", ErrMalformed, i, err)
		}
		off = n
		if off+4 > len(b) {
			return 0, fmt.Errorf("%w: question %d truncated", ErrMalformed, i)
		}
		if i < maxQuestions {
			m.Questions = append(m.Questions, Question{
				Name:  name,
				Type:  binary.BigEndian.Uint16(b[off : off+2]),
				Class: binary.BigEndian.Uint16(b[off+2 : off+4]),
			})
		}
		off += 4
	}
	return off, nil
}

// answers reads an answer records from off, keeping the first maxAnswers;
// a record that cannot be read ends the section and sets m.Partial.
func (p *parser) answers(m *Message, off, an int) {
	b := p.msg
	for i := 0; i < an; i++ {
		name, n, err := p.name(off)
		if err != nil || n+10 > len(b) {
			m.Partial = true
			return
		}
		off = n
		rr := RR{
			Name:  name,
			Type:  binary.BigEndian.Uint16(b[off : off+2]),
			Class: binary.BigEndian.Uint16(b[off+2 : off+4]),
			TTL:   binary.BigEndian.Uint32(b[off+4 : off+8]),
		}
		rdlen := int(binary.BigEndian.Uint16(b[off+8 : off+10]))
		off += 10
		if off+rdlen > len(b) {
			m.Partial = true
			return
		}
		rr.Data = p.rdata(rr.Type, off, rdlen)
		off += rdlen
		if i < maxAnswers {
			m.Answers = append(m.Answers, rr)
		}
	}
}

type parser struct {
	msg []byte
	buf []byte // scratch for names, kept in the Message between calls
	// names are the names this message has produced so far: answers
	// mostly repeat the question's name (a compression pointer to it),
	// and each repeat shares the string instead of allocating another.
	names [4]string
	n     int
}

// name reads a possibly compressed domain name at off and returns it in
// presentation form (no trailing dot; "<Root>" for the root, as tshark
// shows it) and the offset after it in the original position.
func (p *parser) name(off int) (string, int, error) {
	b := p.msg
	p.buf = p.buf[:0]
	end := -1
	pointers := 0
	for {
		if off >= len(b) {
			return "", 0, errors.New("name runs past the message")
		}
		l := int(b[off])
		switch l & 0xc0 {
		case 0x00:
			if l == 0 {
				if end < 0 {
					end = off + 1
				}
				if len(p.buf) == 0 {
					return "<Root>", end, nil
				}
				return p.text(), end, nil
			}
			if off+1+l > len(b) {
				return "", 0, errors.New("label runs past the message")
			}
			if len(p.buf) > 0 {
				p.buf = append(p.buf, '.')
			}
			p.buf = appendLabel(p.buf, b[off+1:off+1+l])
			if len(p.buf) > maxNameLen {
				return "", 0, errors.New("name too long")
			}
			off += 1 + l
		case 0xc0:
			if off+2 > len(b) {
				return "", 0, errors.New("compression pointer truncated")
			}
			if end < 0 {
				end = off + 2
			}
			pointers++
			if pointers > maxPointers {
				return "", 0, errors.New("compression pointer loop")
			}
			off = int(binary.BigEndian.Uint16(b[off:off+2]) & 0x3fff)
		default:
			return "", 0, fmt.Errorf("unsupported label type %#x", l&0xc0)
		}
	}
}

// text returns the name in p.buf as a string, shared with an earlier one
// of the message when they are equal.
func (p *parser) text() string {
	for _, n := range p.names[:min(p.n, len(p.names))] {
		if n == string(p.buf) {
			return n
		}
	}
	s := string(p.buf)
	p.names[p.n%len(p.names)] = s
	p.n++
	return s
}

// appendLabel appends a label, escaping what would make the text ambiguous or
// unprintable (RFC 4343 style: \. and \DDD).
func appendLabel(dst, label []byte) []byte {
	for _, c := range label {
		switch {
		case c == '.' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c >= 0x7f:
			dst = append(dst, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// rdata renders a record's data as text.
func (p *parser) rdata(typ uint16, off, n int) string {
	d := p.msg[off : off+n]
	switch typ {
	case TypeA:
		if n == 4 {
			return netip.AddrFrom4([4]byte(d)).String()
		}
	case TypeAAAA:
		if n == 16 {
			return netip.AddrFrom16([16]byte(d)).String()
		}
	case TypeNS, TypeCNAME, TypePTR, TypeDNAME:
		if name, _, err := p.name(off); err == nil {
			return name
		}
	case TypeMX:
		if n >= 3 {
			if name, _, err := p.name(off + 2); err == nil {
				return strconv.Itoa(int(binary.BigEndian.Uint16(d))) + " " + name
			}
		}
	case TypeSRV:
		if n >= 7 {
			if name, _, err := p.name(off + 6); err == nil {
				return fmt.Sprintf("%d %d %d %s", binary.BigEndian.Uint16(d), binary.BigEndian.Uint16(d[2:]), binary.BigEndian.Uint16(d[4:]), name)
			}
		}
	case TypeSOA:
		if mname, o, err := p.name(off); err == nil {
			if rname, o2, err := p.name(o); err == nil && o2+20 <= off+n {
				t := p.msg[o2:]
				return fmt.Sprintf("%s %s %d %d %d %d %d", mname, rname,
					binary.BigEndian.Uint32(t), binary.BigEndian.Uint32(t[4:]), binary.BigEndian.Uint32(t[8:]),
					binary.BigEndian.Uint32(t[12:]), binary.BigEndian.Uint32(t[16:]))
			}
		}
	case TypeTXT, TypeHINFO:
		return characterStrings(d)
	}
	return generic(d)
}

// characterStrings renders TXT-style data: length-prefixed strings, joined
// by spaces.
func characterStrings(d []byte) string {
	var sb strings.Builder
	for len(d) > 0 && sb.Len() < maxRDataText {
		l := int(d[0])
		if 1+l > len(d) {
			return generic(d)
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		for _, c := range d[1 : 1+l] {
			if c < 0x20 || c >= 0x7f || c == '\\' {
				fmt.Fprintf(&sb, "\\%03d", c)
			} else {
				sb.WriteByte(c)
			}
		}
		d = d[1+l:]
	}
	return sb.String()
}

// generic renders unknown data the RFC 3597 way: \# length hex.
func generic(d []byte) string {
	n := len(d)
	if len(d) > maxRDataText/2 {
		d = d[:maxRDataText/2]
	}
	return "\\# " + strconv.Itoa(n) + " " + hex.EncodeToString(d)
}

var typeNames = map[uint16]string{
	TypeA: "A", TypeNS: "NS", TypeCNAME: "CNAME", TypeSOA: "SOA", TypePTR: "PTR",
	TypeHINFO: "HINFO", TypeMX: "MX", TypeTXT: "TXT", TypeAAAA: "AAAA", TypeLOC: "LOC",
	TypeSRV: "SRV", TypeNAPTR: "NAPTR", TypeDNAME: "DNAME", TypeOPT: "OPT", TypeDS: "DS",
	TypeRRSIG: "RRSIG", TypeNSEC: "NSEC", TypeHTTPS: "HTTPS", TypeANY: "ANY",
	32: "NB", 48: "DNSKEY", 64: "SVCB", 99: "SPF", 252: "AXFR", 251: "IXFR",
}

// TypeString names a record type ("A", "AAAA", ... or "TYPE123").
func TypeString(t uint16) string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

var rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}

// RCodeString names a response code ("NOERROR", "NXDOMAIN", ... or "RCODE12").
func RCodeString(rc uint8) string {
	if int(rc) < len(rcodeNames) {
		return rcodeNames[rc]
	}
	return "RCODE" + strconv.Itoa(int(rc))
}
