package mail

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func gbkB(s string) string {
	b, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	return "=?GBK?B?" + base64.StdEncoding.EncodeToString(b) + "?="
}

func TestParse(t *testing.T) {
	gbkBody, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("正文：你好"))
	tests := []struct {
		name string
		raw  string
		want func(*Message) string // "" when fine
	}{
		{"plain", "From: \"A B\" <a@x.org>\r\nTo: b@y.org, =?utf-8?q?C=C3=A9?= <c@y.org>\r\nSubject: hi\r\n there\r\n" +
			"Message-ID: <1@x>\r\nDate: Tue, 1 Dec 2020 10:00:00 +0800\r\nX-Priority: 2 (High)\r\nX-Mailer: Foxmail 7.2\r\n\r\nbody\r\n",
			func(m *Message) string {
				if m.Subject != "hi there" || m.From[0] != (Address{"A B", "a@x.org"}) || m.To[1].Name != "Cé" || m.MessageID != "<1@x>" ||
					m.Priority != 2 || m.Mailer != "Foxmail 7.2" || m.Body != "body\r\n" || m.Date.IsZero() || m.HeaderOnly {
					return "fields"
				}
				return ""
			}},
		{"gbk", "Subject: " + gbkB("测试邮件") + "\r\nFrom: " + gbkB("张三") + " <z@s.cn>\r\nContent-Type: text/plain; charset=gb2312\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(gbkBody) + "\r\n",
			func(m *Message) string {
				if m.Subject != "测试邮件" || m.From[0].Name != "张三" || m.Body != "正文：你好" {
					return "gbk " + m.Subject + " " + m.Body
				}
				return ""
			}},
		{"multipart", "Subject: =?iso-8859-1?B?dGVzdCDlIOkg7iD4IPw=?=\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=C3=AFve =\r\ntext\r\n--XX\r\n" +
			"Content-Type: application/zip\r\nContent-Disposition: attachment;\r\n filename*0=\"a-very-\";\r\n filename*1=\"long.zip\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\nUEsDBAo=\r\n--XX\r\nContent-Type: image/png; name=\"=?UTF-8?B?5Zu+LnBuZw==?=\"\r\n\r\nPNG\r\n--XX--\r\n",
			func(m *Message) string {
				if m.Subject != "test å é î ø ü" || m.Body != "naïve text" || len(m.Attachments) != 2 {
					return "multipart"
				}
				a, b := m.Attachments[0], m.Attachments[1]
				if a.Name != "a-very-long.zip" || a.Type != "application/zip" || a.Size != 5 || !bytes.Equal(a.Content, []byte("PK\x03\x04\n")) ||
					b.Name != "图.png" || !b.IsImage() || string(b.Content) != "PNG" {
					return "attachments"
				}
				return ""
			}},
		{"header only", "From: a@b\r\nSubject: x\r\n", func(m *Message) string {
			if !m.HeaderOnly || m.Subject != "x" {
				return "header only"
			}
			return ""
		}},
		{"header only of a multipart message (IMAP BODY[HEADER])", "Subject: x\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n", func(m *Message) string {
			if !m.HeaderOnly || m.Malformed {
				return "a header without its body is partial, not malformed"
			}
			return ""
		}},
		{"malformed: multipart without a boundary", "Subject: x\r\nContent-Type: multipart/mixed\r\n\r\nbody\r\n", func(m *Message) string {
			if !m.Malformed {
				return "not malformed"
			}
			return ""
		}},
		{"garbage", "\x00\xff: ::\r\n\r\n--", func(*Message) string { return "" }},
	}
	for _, tt := range tests {
		m := Parse([]byte(tt.raw), DefaultLimits)
		if msg := tt.want(m); msg != "" {
			t.Errorf("%s: %s: %+v", tt.name, msg, *m)
		}
	}
}

func TestCaps(t *testing.T) {
	lim := Limits{MaxBody: 10, MaxAttachment: 4, MaxParts: 3, MaxDepth: 2}
	m := Parse([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"+strings.Repeat("é", 20)+
		"\r\n--b\r\nContent-Disposition: attachment; filename=f\r\n\r\n0123456789\r\n--b\r\n\r\nx\r\n--b\r\n\r\ny\r\n--b--\r\n"), lim)
	if len(m.Body) != 10 || !m.BodyCut || len(m.Attachments) != 1 || m.Attachments[0].Size != 10 ||
		len(m.Attachments[0].Content) != 4 || !m.Attachments[0].Cut || !m.Malformed {
		t.Errorf("%+v", *m)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("Subject: =?gbk?B?suLK1A==?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/alternative; boundary=\"=_\"\r\n\r\n--=_\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nq=3D\r\n--c--\r\n--=_--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		lim := Limits{MaxBody: 1 << 10, MaxAttachment: 1 << 12, MaxParts: 50, MaxDepth: 5}
		m := Parse(raw, lim)
		if len(m.Body) > lim.MaxBody || len(m.Attachments) > lim.MaxParts {
			t.Fatalf("over the limits: body %d, %d attachments", len(m.Body), len(m.Attachments))
		}
		for _, a := range m.Attachments {
			if len(a.Content) > lim.MaxAttachment || int64(len(a.Content)) > a.Size {
				t.Fatalf("attachment %d kept of %d", len(a.Content), a.Size)
			}
		}
	})
}
