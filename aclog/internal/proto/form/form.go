// Package form parses the body of an HTTP POST or PUT into what the posts
// table keeps: the fields of an urlencoded or multipart/form-data form,
// with the values of password-like fields masked, and the uploaded files
// with their names, types, sizes and content. Parsing never fails; a body
// that is cut or malformed yields what could be read.
package form

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"

	"github.com/acstore/acstore/aclog/internal/proto/mail"
)

// Limits bound what a parse keeps.
type Limits struct {
	MaxFields int // fields kept
	MaxValue  int // bytes kept of one value
	MaxFile   int // bytes kept of one file
	MaxParts  int // multipart parts looked at
}

// DefaultLimits: 200 fields of up to 4 KB, 10 MB per file, 200 parts.
var DefaultLimits = Limits{MaxFields: 200, MaxValue: 4 << 10, MaxFile: 10 << 20, MaxParts: 200}

// Field is one form field.
type Field struct {
	Name   string
	Value  string // "***" when masked
	Masked bool   // a password: the value is replaced, PassLen is its length
	Len    int    // length of the original value
}

// File is one uploaded file.
type File struct {
	Field   string // form field name
	Name    string // file name as the client sent it (UTF-8 where declared)
	Type    string
	Size    int64
	Content []byte
	Cut     bool
}

// Mask is what a masked value is replaced with.
const Mask = "***"

// Sensitive reports whether a field name is a password or secret whose
// value must not be stored.
func Sensitive(name string) bool {
	n := strings.ToLower(name)
	for _, k := range []string{"pass", "pwd", "secret", "token", "credential", "passwd", "mima", "密码", "otp", "pin"} {
		if strings.Contains(n, k) {
			if k == "pin" && n != "pin" && !strings.HasSuffix(n, "_pin") && !strings.HasPrefix(n, "pin_") {
				continue // "shipping", "spinner"
			}
			return true
		}
	}
	return false
}

// Kind says what a content type is to the parser.
func Kind(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		return "urlencoded"
	case "multipart/form-data", "multipart/mixed":
		return "multipart"
	}
	return ""
}

// Parse parses a body of the given Content-Type. ok is false when the type
// is not a form (the caller keeps the body as it is).
func Parse(contentType string, body []byte, lim Limits) (fields []Field, files []File, ok bool) {
	if lim.MaxFields <= 0 {
		lim = DefaultLimits
	}
	switch Kind(contentType) {
	case "urlencoded":
		return urlencoded(string(body), lim), nil, true
	case "multipart":
		_, params, _ := mime.ParseMediaType(contentType)
		if params["boundary"] == "" {
			return nil, nil, false
		}
		f, fl := multipartForm(body, params["boundary"], lim)
		return f, fl, true
	}
	return nil, nil, false
}

func field(name, value string, lim Limits) Field {
	f := Field{Name: name, Value: value, Len: len(value)}
	if Sensitive(name) {
		f.Value, f.Masked = Mask, true
	} else if len(f.Value) > lim.MaxValue {
		f.Value = f.Value[:lim.MaxValue]
	}
	return f
}

func urlencoded(s string, lim Limits) []Field {
	var out []Field
	for s != "" && len(out) < lim.MaxFields {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		out = append(out, field(k, v, lim))
	}
	return out
}

func multipartForm(body []byte, boundary string, lim Limits) ([]Field, []File) {
	var fields []Field
	var files []File
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for parts := 0; parts < lim.MaxParts; parts++ {
		p, err := r.NextRawPart()
		if err != nil {
			break
		}
		_, params, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		name := params["name"]
		fname, hasFile := params["filename"]
		if hasFile {
			fname = mail.DecodeHeader(fname)
			var buf bytes.Buffer
			n, _ := io.Copy(&buf, io.LimitReader(p, int64(lim.MaxFile)))
			rest, _ := io.Copy(io.Discard, p)
			if fname == "" && n+rest == 0 {
				continue // a file input left empty
			}
			typ := p.Header.Get("Content-Type")
			if typ == "" {
				typ = "application/octet-stream"
			}
			files = append(files, File{Field: name, Name: fname, Type: strings.ToLower(typ), Size: n + rest, Content: buf.Bytes(), Cut: rest > 0})
			continue
		}
		v, _ := io.ReadAll(io.LimitReader(p, int64(lim.MaxValue)+1))
		if len(fields) < lim.MaxFields {
			fields = append(fields, field(name, string(v), lim))
		}
	}
	return fields, files
}

// Encode renders fields as the posts table's form column:
// urlencoded, in order, masked values as "***".
func Encode(fields []Field) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.Name))
		b.WriteByte('=')
		if f.Masked {
			b.WriteString(Mask)
		} else {
			b.WriteString(url.QueryEscape(f.Value))
		}
	}
	return b.String()
}
