package mail

import (
	"io"
	"mime"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

var wordDecoder = &mime.WordDecoder{CharsetReader: CharsetReader}

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
