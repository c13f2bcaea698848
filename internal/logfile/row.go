package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"
)

// TimeLayout is how times are written in rows; DATETIME(6) reads it.
const TimeLayout = "2006-01-02 15:04:05.000000"

// Encoder builds one row in the text form LOAD DATA reads by default: fields
// separated by tabs, the row ended by a newline, backslash escapes, \N for
// NULL. The zero value is ready to use; Reset starts a new row. An Encoder
// never allocates once its buffer has grown to the size of a row.
type Encoder struct {
	buf    []byte
	fields int
	clock  clock
}

// Reset empties the encoder.
func (e *Encoder) Reset() { e.buf, e.fields = e.buf[:0], 0 }

// Fields reports how many fields have been added.
func (e *Encoder) Fields() int { return e.fields }

// Bytes returns the encoded row without its newline; it is valid until the
// next change of the encoder.
func (e *Encoder) Bytes() []byte { return e.buf }

func (e *Encoder) sep() {
	if e.fields > 0 {
		e.buf = append(e.buf, '\t')
	}
	e.fields++
}

// Null adds a NULL field.
func (e *Encoder) Null() *Encoder {
	e.sep()
	e.buf = append(e.buf, '\\', 'N')
	return e
}

// Str adds a text field. Any byte is allowed: the text is escaped.
func (e *Encoder) Str(s string) *Encoder {
	e.sep()
	e.buf = appendEscaped(e.buf, s)
	return e
}

// Bytes adds a text field from a byte slice.
func (e *Encoder) Raw(b []byte) *Encoder {
	e.sep()
	e.buf = appendEscaped(e.buf, b)
	return e
}

// Encoded adds n fields (n > 0) another Encoder encoded: b is its Bytes
// after a Reset, the fields without the time Begin puts first. A row
// kept for later is kept as text this way, not as what it was made from.
func (e *Encoder) Encoded(b []byte, n int) *Encoder {
	e.sep()
	e.buf = append(e.buf, b...)
	e.fields += n - 1
	return e
}

// StrOrNull adds s, or NULL when s is empty.
func (e *Encoder) StrOrNull(s string) *Encoder {
	if s == "" {
		return e.Null()
	}
	return e.Str(s)
}

// Int adds an integer field.
func (e *Encoder) Int(v int64) *Encoder {
	e.sep()
	e.buf = strconv.AppendInt(e.buf, v, 10)
	return e
}

// Uint adds an unsigned integer field.
func (e *Encoder) Uint(v uint64) *Encoder {
	e.sep()
	if v < 10 { // flags, counts, booleans: most of the integers of a row
		e.buf = append(e.buf, byte('0'+v))
		return e
	}
	e.buf = strconv.AppendUint(e.buf, v, 10)
	return e
}

// Bool adds 1 or 0.
func (e *Encoder) Bool(v bool) *Encoder {
	if v {
		return e.Uint(1)
	}
	return e.Uint(0)
}

// Time adds a DATETIME(6) field in t's location.
func (e *Encoder) Time(t time.Time) *Encoder {
	e.sep()
	e.buf = e.clock.append(e.buf, t)
	return e
}

// clock writes times in TimeLayout. Formatting a time.Time costs several
// times what the row's other fields do, so the clock keeps the offset of
// the zone period the last time fell in and the text of the date of the
// last day it wrote: within them a time is its Unix seconds plus that
// offset, the time of day taken by arithmetic (Go's calendar has no leap
// seconds, so this is what time.Format computes).
type clock struct {
	loc      *time.Location
	from, to int64 // the zone period [from, to) of loc, Unix seconds
	off      int64 // its offset from UTC, seconds
	day      int64 // the local day of date, days since 1970-01-01
	date     []byte
	dated    bool // date holds "2006-01-02 " of day
}

func (c *clock) append(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	if loc := t.Location(); loc != c.loc || sec < c.from || sec >= c.to {
		c.zone(t)
	}
	local := sec + c.off
	day := local / secondsPerDay
	if local%secondsPerDay < 0 {
		day-- // a time before 1970: the day starts before it
	}
	if day != c.day || !c.dated {
		c.day, c.dated = day, true
		c.date = t.AppendFormat(c.date[:0], "2006-01-02 ")
	}
	dst = append(dst, c.date...)
	tod := int(local - day*secondsPerDay)
	us := t.Nanosecond() / 1000
	b := [15]byte{
		byte('0' + tod/36000), byte('0' + tod/3600%10), ':',
		byte('0' + tod/600%6), byte('0' + tod/60%10), ':',
		byte('0' + tod%60/10), byte('0' + tod%10), '.',
		byte('0' + us/100000), byte('0' + us/10000%10), byte('0' + us/1000%10),
		byte('0' + us/100%10), byte('0' + us/10%10), byte('0' + us%10),
	}
	return append(dst, b[:]...)
}

const secondsPerDay = 24 * 60 * 60

// zone takes the zone period of t in its location.
func (c *clock) zone(t time.Time) {
	_, off := t.Zone()
	from, to := t.ZoneBounds() // zero: the period has no start, or no end
	c.loc, c.off, c.dated = t.Location(), int64(off), false
	c.from, c.to = math.MinInt64, math.MaxInt64
	if !from.IsZero() {
		c.from = from.Unix()
	}
	if !to.IsZero() {
		c.to = to.Unix()
	}
}

// Addr adds an address, or NULL for the zero Addr.
func (e *Encoder) Addr(a netip.Addr) *Encoder {
	if !a.IsValid() {
		return e.Null()
	}
	e.sep()
	e.buf = a.Unmap().AppendTo(e.buf)
	return e
}

func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	// Runs of bytes that need no escape (nearly every byte of every row)
	// are copied whole: byte by byte, the loop cost more than the copy.
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > '\r' && c != '\\' {
			continue
		}
		var esc byte
		switch c {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case 0:
			esc = '0'
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// ErrBadRow reports a row that does not parse.
var ErrBadRow = errors.New("malformed row")

// Field is one decoded field of a row; Null tells NULL from an empty string.
type Field struct {
	Value []byte
	Null  bool
}

// String returns the value, or `\N` for NULL, for messages and tests.
func (f Field) String() string {
	if f.Null {
		return `\N`
	}
	return string(f.Value)
}

// SplitRow decodes a row (without its newline) into fields, undoing the
// escapes the Encoder applies, the way LOAD DATA reads them.
func SplitRow(row []byte) ([]Field, error) {
	var fields []Field
	for _, raw := range bytes.Split(row, []byte{'\t'}) {
		if string(raw) == `\N` {
			fields = append(fields, Field{Null: true})
			continue
		}
		trailing := len(raw) - len(bytes.TrimRight(raw, `\`))
		if trailing%2 == 1 {
			return nil, fmt.Errorf("%w: trailing backslash", ErrBadRow)
		}
		fields = append(fields, Field{Value: AppendUnescaped(make([]byte, 0, len(raw)), raw)})
	}
	return fields, nil
}

// AppendUnescaped appends the value of one field of a row to dst, undoing
// the backslash escapes as LOAD DATA does (a lone backslash at the end
// stands for itself). It does not allocate when dst has room.
func AppendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 == len(raw) {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 't':
			dst = append(dst, '\t')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case '0':
			dst = append(dst, 0)
		case 'b':
			dst = append(dst, '\b')
		case 'Z':
			dst = append(dst, 0x1a)
		default:
			dst = append(dst, raw[i])
		}
	}
	return dst
}

// RowID returns the id of a row: its first field.
func RowID(row []byte) (uint64, error) {
	end := bytes.IndexByte(row, '\t')
	if end < 0 {
		end = len(row)
	}
	id, err := strconv.ParseUint(string(row[:end]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: id %q", ErrBadRow, row[:end])
	}
	return id, nil
}
