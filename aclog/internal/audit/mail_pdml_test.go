package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"io"
	"mime"
	netmail "net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/acstore/acstore/aclog/internal/proto/mail"
)

// pdmlField is a field of tshark's PDML, with its children.
type pdmlField struct {
	Name   string      `xml:"name,attr"`
	Show   string      `xml:"show,attr"`
	Value  string      `xml:"value,attr"`
	Fields []pdmlField `xml:"field"`
	Protos []pdmlProto `xml:"proto"`
}

type pdmlProto struct {
	Name   string      `xml:"name,attr"`
	Fields []pdmlField `xml:"field"`
	Protos []pdmlProto `xml:"proto"`
}

type pdmlPacket struct {
	Protos []pdmlProto `xml:"proto"`
}

// raw returns the field's bytes: its hex value, else what it shows.
func (f *pdmlField) raw() string {
	if b, err := hex.DecodeString(f.Value); err == nil && f.Value != "" {
		return string(b)
	}
	return f.Show
}

func flatten(fs []pdmlField, ps []pdmlProto, out *[]*pdmlField) {
	for i := range fs {
		*out = append(*out, &fs[i])
		flatten(fs[i].Fields, fs[i].Protos, out)
	}
	for i := range ps {
		flatten(ps[i].Fields, ps[i].Protos, out)
	}
}

func findProtos(ps []pdmlProto, fs []pdmlField, name string, out *[]*pdmlProto) {
	for i := range ps {
		if ps[i].Name == name {
			*out = append(*out, &ps[i])
		}
		findProtos(ps[i].Protos, ps[i].Fields, name, out)
	}
	for i := range fs {
		findProtos(fs[i].Protos, fs[i].Fields, name, out)
	}
}

// pdml runs tshark -T pdml with a display filter and calls fn per packet.
func pdml(t *testing.T, file, filter string, fn func(*pdmlPacket)) {
	out := tshark(t, "-r", file, "-Y", filter, "-T", "pdml")
	d := xml.NewDecoder(bytes.NewReader(out))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("pdml of %s: %v", file, err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "packet" {
			var p pdmlPacket
			if err := d.DecodeElement(&p, &se); err != nil {
				t.Fatalf("pdml packet: %v", err)
			}
			fn(&p)
		}
	}
}

var addrRE = regexp.MustCompile(`[^\s<>,"':;()]+@[^\s<>,"':;()]+`)

// tsharkAddrs turns a raw header value into its address set.
func tsharkAddrs(v string) []string {
	v = unfold(v)
	var out []string
	if list, err := netmail.ParseAddressList(v); err == nil {
		for _, a := range list {
			out = append(out, strings.ToLower(a.Address))
		}
	} else {
		for _, a := range addrRE.FindAllString(v, -1) {
			out = append(out, strings.ToLower(a))
		}
	}
	slices.Sort(out)
	return out
}

// unfold removes the line breaks of a folded header value (RFC 5322
// 2.2.3), keeping the white space.
func unfold(v string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n", "", "\n", "").Replace(v))
}

var testWordDecoder = mime.WordDecoder{CharsetReader: mail.CharsetReader}

var paramRE = regexp.MustCompile(`(?i)^\s*(?:from|to)\s*:\s*<?([^>\s]*)>?`)

func runTsharkText(t *testing.T, file string) textResult {
	var r textResult
	r.TsharkVersion = strings.TrimSpace(strings.SplitN(string(tshark(t, "--version")), "\n", 2)[0])
	pdml(t, file, "imf || smtp || ftp", func(p *pdmlPacket) {
		var imfs []*pdmlProto
		findProtos(p.Protos, nil, "imf", &imfs)
		for _, imf := range imfs {
			var from, to, subject, msgID string
			var cc []string
			for _, f := range imf.Fields {
				switch f.Name {
				case "imf.from":
					from = f.raw()
				case "imf.to":
					to = f.raw()
				case "imf.cc":
					cc = append(cc, f.raw())
				case "imf.subject":
					subject = unfold(f.raw())
					if d, err := testWordDecoder.DecodeHeader(subject); err == nil {
						subject = d
					}
				case "imf.message_id":
					msgID = unfold(f.raw())
				}
			}
			toAll := tsharkAddrs(to)
			for _, c := range cc {
				toAll = append(toAll, tsharkAddrs(c)...)
			}
			slices.Sort(toAll)
			if from == "" && len(toAll) == 0 && subject == "" && msgID == "" && len(cc) == 0 {
				// tshark also runs IMF over POP3 multi-line replies that
				// are not messages (LIST, UIDL): nothing to compare.
				continue
			}
			r.IMF = append(r.IMF, imfString(tsharkAddrs(from), toAll, strings.TrimSpace(subject), msgID))
		}
		var all []*pdmlField
		for i := range p.Protos {
			if p.Protos[i].Name == "smtp" || p.Protos[i].Name == "ftp" {
				flatten(p.Protos[i].Fields, p.Protos[i].Protos, &all)
			}
		}
		var verb string
		flushFTP := func(arg string) {
			if verb == "" {
				return
			}
			switch v := strings.ToUpper(verb); v {
			case "PASS":
				arg = "<" + strconv.Itoa(len(arg)) + " bytes>"
				r.FTPCommands = append(r.FTPCommands, "PASS "+arg)
			default:
				r.FTPCommands = append(r.FTPCommands, strings.TrimSpace(v+" "+arg))
				switch v {
				case "USER":
					r.FTPUsers = append(r.FTPUsers, arg)
				case "RETR", "STOR", "STOU", "APPE":
					r.FTPFiles = append(r.FTPFiles, v+" "+arg)
				}
			}
			verb = ""
		}
		var smtpVerb string
		for i, f := range all {
			switch f.Name {
			case "smtp.req.command":
				smtpVerb = strings.ToUpper(f.raw())
				// A parameter, when there is one, is the next field.
				param := ""
				if i+1 < len(all) && all[i+1].Name == "smtp.req.parameter" {
					param = all[i+1].raw()
				}
				if m := paramRE.FindStringSubmatch(param); m != nil && (smtpVerb == "MAIL" || smtpVerb == "RCPT") {
					r.Envelope = append(r.Envelope, smtpVerb+" "+m[1])
				}
			case "ftp.request.command":
				flushFTP("")
				verb = f.raw()
				if i+1 >= len(all) || all[i+1].Name != "ftp.request.arg" {
					flushFTP("")
				}
			case "ftp.request.arg":
				flushFTP(f.raw())
			}
		}
		flushFTP("")
	})
	sortText(&r)
	return r
}
