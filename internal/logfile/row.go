package logfile

import (
	"bytes"
	"errors"
	"fmt"
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

// clock writes times in TimeLayout, keeping the text of the last second it
// wrote: rows come with times close together, and the date and time of day
// cost several times what the microseconds do.
type clock struct {
	sec    int64
	loc    *time.Location
	prefix []byte // "2006-01-02 15:04:05." of sec in loc
}

func (c *clock) append(dst []byte, t time.Time) []byte {
	if sec, loc := t.Unix(), t.Location(); sec != c.sec || loc != c.loc || c.prefix == nil {
		c.sec, c.loc = sec, loc
		c.prefix = t.AppendFormat(c.prefix[:0], "2006-01-02 15:04:05.")
	}
	dst = append(dst, c.prefix...)
	us := t.Nanosecond() / 1000
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + us%10)
		us /= 10
	}
	return append(dst, d[:]...)
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
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case 0:
			dst = append(dst, '\\', '0')
		default:
			dst = append(dst, c)
		}
	}
	return dst
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
