package audit

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/acstore/acstore/aclog/internal/proto/mail"
	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// Exact values from the expected files beside the mail, FTP and HTTP
// captures (Zeek logs, Arkime sessions, Suricata checks).

func hexSum(b []byte, md bool) string {
	if md {
		s := md5.Sum(b)
		return hex.EncodeToString(s[:])
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func messages(c *collector) []*Mail {
	var out []*Mail
	for _, m := range c.mail {
		if m.Message != nil {
			out = append(out, m)
		}
	}
	return out
}

func TestKnownSMTP(t *testing.T) {
	// Zeek smtp.log: two mails; files.log: NEWS.txt.
	c, _ := runFile(t, pcap("smtp/smtp.pcap"), DefaultConfig())
	ms := messages(c)
	if len(ms) != 2 {
		t.Fatalf("smtp.pcap: %d mails", len(ms))
	}
	m := ms[0].Message
	if ms[0].EnvFrom != "gurpartap@patriots.in" || !slices.Equal(ms[0].EnvTo, []string{"raj_deol2002in@yahoo.co.in"}) ||
		m.Subject != "SMTP" || m.MessageID != "<000301ca4581$ef9e57f0$cedb07d0$@in>" || m.Mailer != "Microsoft Office Outlook 12.0" ||
		ms[0].Helo != "GP" || ms[0].User != "gurpartap@patriots.in" || ms[0].Send != true || ms[0].Proto != "smtp" {
		t.Errorf("mail 1: %+v %+v", *ms[0], *m)
	}
	// Zeek's files.log says 10809: it counts the CRLF before the closing
	// boundary, which RFC 2046 5.1.1 makes part of the delimiter (Python's
	// quopri over the same part also gives 10807).
	if len(m.Attachments) != 1 || m.Attachments[0].Name != "NEWS.txt" || m.Attachments[0].Size != 10807 {
		t.Errorf("mail 1 attachments %+v", m.Attachments)
	}
	m2 := ms[1].Message
	if len(ms[1].EnvTo) != 3 || m2.Subject != "Re: Bro SMTP CC Header" || len(m2.Cc) != 2 || m2.To[0].Addr != "ericlim220@yahoo.com" {
		t.Errorf("mail 2: %+v %+v", *ms[1], *m2)
	}
	// AUTH LOGIN: the user, the password's length only.
	if len(c.creds) != 1 || c.creds[0].User != "gurpartap@patriots.in" || c.creds[0].Mechanism != "LOGIN" ||
		c.creds[0].Result != textconn.Accepted || c.creds[0].PassLen == 0 {
		t.Errorf("smtp.pcap credentials %+v", c.creds)
	}

	// Decoded attachments, checked against the Suricata checks (the Arkime
	// captures' hashes are read from their files by TestArkimeExpected).
	for _, tt := range []struct {
		file, name, sum string
		md5             bool
		size            int64
	}{
		{"smtp/mime-quoted-printable_input.pcap", "related.patch", "359641873610597882317aee0f72104ed54fe8aa82d6fa323a5418e4529bd3b9", false, 34224},
		{"smtp/smtp-rfc2231_input.pcap", "smtptest-2021-02-25T13-54-22Z-aefb2fc1308d62f4b6c74769f69b13ddf80e995fd98ae442f3be499ea928c67f..zip", "", false, -1},
	} {
		c, _ := runFile(t, pcap(tt.file), DefaultConfig())
		var found *mail.Attachment
		for _, m := range messages(c) {
			for i := range m.Message.Attachments {
				if a := &m.Message.Attachments[i]; a.Name == tt.name {
					found = a
				}
			}
		}
		switch {
		case found == nil:
			t.Errorf("%s: no attachment %q", tt.file, tt.name)
		case tt.sum != "" && hexSum(found.Content, tt.md5) != tt.sum:
			t.Errorf("%s: %s hash %s, want %s", tt.file, tt.name, hexSum(found.Content, tt.md5), tt.sum)
		case tt.size >= 0 && found.Size != tt.size:
			t.Errorf("%s: %s size %d, want %d", tt.file, tt.name, found.Size, tt.size)
		}
	}

	// RFC 2047 subjects (Arkime's decoded values).
	for file, subject := range map[string]string{
		"smtp/smtp-subject-8859-b.pcap": "test å é î ø ü",
		"smtp/smtp-subject-utf8-q.pcap": "xxxxxx xxxxxx xx xxxxxxxxx xx-xxxxxxx（ANA）GGL_xxxxxxxxxxxxx_xxxxxx.zip",
	} {
		c, _ := runFile(t, pcap(file), DefaultConfig())
		if ms := messages(c); len(ms) != 1 || ms[0].Message.Subject != subject {
			t.Errorf("%s: subject %+v", file, ms)
		}
	}

	// BDAT (Zeek): two mails, user agent of the second git-send-email.
	c, _ = runFile(t, pcap("smtp/smtp-bdat-pipeline-8bitmime.pcap"), DefaultConfig())
	if ms := messages(c); len(ms) != 2 || ms[0].Command != "BDAT" || ms[1].Message.Mailer != "git-send-email 2.30.1.721.g45526154a5" ||
		len(ms[1].Message.To) != 5 || len(ms[1].Message.Cc) != 22 {
		t.Errorf("bdat: %d mails", len(ms))
	}

	// AUTH PLAIN (Arkime: user 12345678@aol.com).
	c, _ = runFile(t, pcap("smtp/smtp-data-250.pcap"), DefaultConfig())
	if len(c.creds) != 1 || c.creds[0].User != "12345678@aol.com" || c.creds[0].Mechanism != "PLAIN" || c.creds[0].Result != textconn.Accepted {
		t.Errorf("smtp-data-250 credentials %+v", c.creds)
	}
}

func TestKnownSTARTTLS(t *testing.T) {
	// Zeek: one smtp.log row with tls=T and no envelope; ssl.log TLSv12.
	for _, file := range []string{"smtp/smtp-starttls.pcap", "pop3/pop3-starttls.pcap", "imap/imap-starttls.pcap"} {
		c, _ := runFile(t, pcap(file), DefaultConfig())
		if len(c.mail) != 1 || !c.mail[0].Encrypted || c.mail[0].Message != nil || c.mail[0].Command != "STARTTLS" {
			t.Errorf("%s: mail events %+v", file, c.mail)
		}
		if len(c.tls) != 1 || c.tls[0].Version != 0x0303 {
			t.Errorf("%s: the TLS after STARTTLS: %+v", file, c.tls)
		}
	}
}

func TestKnownPOP3IMAP(t *testing.T) {
	// pop3.pcap: three RETR (tshark's IMF); the AUTH PLAIN logins.
	c, _ := runFile(t, pcap("pop3/pop3.pcap"), DefaultConfig())
	var subjects []string
	for _, m := range messages(c) {
		subjects = append(subjects, m.Message.Subject)
		if m.Command != "RETR" || m.Send || m.Proto != "pop3" {
			t.Errorf("pop3 mail %+v", *m)
		}
	}
	if !slices.Equal(subjects, []string{"A message from 1&1 Internet", "Testing", "RE: Testing"}) {
		t.Errorf("pop3 subjects %q", subjects)
	}
	// pop3_input.pcap (Suricata): USER moises.nunez@ingenierianumar.com, 49 TOP.
	c, _ = runFile(t, pcap("pop3/pop3_input.pcap"), DefaultConfig())
	if ms := messages(c); len(ms) != 49 || ms[0].Command != "TOP" || !ms[0].Message.HeaderOnly && ms[0].Message.Body != "" {
		t.Errorf("pop3_input: %d messages", len(ms))
	}
	if len(c.creds) != 1 || c.creds[0].User != "moises.nunez@ingenierianumar.com" || c.creds[0].Mechanism != "USER/PASS" ||
		c.creds[0].PassLen != len("moises.nunez") || c.creds[0].Result != textconn.Accepted {
		t.Errorf("pop3_input credentials %+v", c.creds)
	}
	// imap.pcap (tshark): LOGIN neulingern; 25 header fetches and one RFC822.
	c, _ = runFile(t, pcap("imap/imap.pcap"), DefaultConfig())
	full := 0
	for _, m := range messages(c) {
		if !m.Message.HeaderOnly {
			full++
			if m.Section != "RFC822" {
				t.Errorf("full message from section %q", m.Section)
			}
		}
	}
	if len(messages(c)) != 26 || full != 1 {
		t.Errorf("imap: %d messages, %d full", len(messages(c)), full)
	}
	if len(c.creds) != 1 || c.creds[0].User != "neulingern" || c.creds[0].Result != textconn.Accepted {
		t.Errorf("imap credentials %+v", c.creds)
	}
}

func TestKnownFTP(t *testing.T) {
	// Zeek ftp.log: anonymous login, RETR robots.txt over a passive data
	// connection (conn.log: 77 bytes from the server).
	for _, file := range []string{"ftp/ipv4.pcap", "ftp/ipv6.pcap"} {
		// Zeek: RETR robots.txt twice, once over PASV, once over PORT.
		c, _ := runFile(t, pcap(file), DefaultConfig())
		if len(c.files) != 2 {
			t.Fatalf("%s: %d files", file, len(c.files))
		}
		for _, f := range c.files {
			if f.Name != "robots.txt" || f.Size != 77 || f.Reply != 226 || f.Upload || f.Cut || !strings.Contains(string(f.Content), "User-agent") {
				t.Errorf("%s: file %+v", file, *f)
			}
		}
		if len(c.creds) != 1 || c.creds[0].User != "anonymous" || c.creds[0].Result != textconn.Accepted {
			t.Errorf("%s: credentials %+v", file, c.creds)
		}
	}
	// Brute force (Zeek: 30 rows, user bro): every login refused.
	c, _ := runFile(t, pcap("ftp/bruteforce.pcap"), DefaultConfig())
	refused := 0
	for _, cr := range c.creds {
		if cr.User == "bro" && cr.Result == textconn.Refused {
			refused++
		}
	}
	if len(c.creds) != 30 || refused != 30 {
		t.Errorf("bruteforce: %d logins, %d refused", len(c.creds), refused)
	}
	// USER Admin (331), PASS qwerty (530): refused, password length 6.
	c, _ = runFile(t, pcap("ftp/ftp-password-pass-command.pcap"), DefaultConfig())
	if len(c.creds) != 1 || c.creds[0].User != "Admin" || c.creds[0].PassLen != 6 || c.creds[0].Result != textconn.Refused {
		t.Errorf("failed login %+v", c.creds)
	}
	// Active mode, data connection not captured: the size the 150 reply announced.
	c, _ = runFile(t, pcap("ftp/bug-3519_input.pcap"), DefaultConfig())
	if len(c.files) != 1 || c.files[0].Name != "temp.txt" || !c.files[0].NoData || c.files[0].Size != 1164 {
		t.Errorf("bug-3519: %+v", c.files)
	}
}

func TestKnownHTTPPostsAndBasic(t *testing.T) {
	// Zeek: a multipart upload of test.txt (text/plain).
	c, _ := runFile(t, pcap("http/multipart-form-data.pcap"), DefaultConfig())
	if len(c.posts) != 1 || len(c.posts[0].Files) != 1 || c.posts[0].Files[0].Name != "test.txt" || c.posts[0].Files[0].Type != "text/plain" {
		t.Errorf("multipart: %+v", c.posts)
	}
	// Arkime: upload of 123.doc(5).exe.
	c, _ = runFile(t, pcap("http/http-post-upload.pcap"), DefaultConfig())
	if len(c.posts) != 1 || len(c.posts[0].Files) != 1 || c.posts[0].Files[0].Name != "123.doc(5).exe" || c.posts[0].Files[0].Size == 0 {
		t.Errorf("upload: %+v", *c.posts[0])
	}
	// Zeek: the body "hello world".
	c, _ = runFile(t, pcap("http/post.pcap"), DefaultConfig())
	if len(c.posts) != 1 || c.posts[0].BodyLen != 11 || form0(c.posts[0]) != "hello world" {
		t.Errorf("post: %+v", c.posts)
	}
	// Basic auth: user test, password "1:34" (4 bytes, never kept).
	c, _ = runFile(t, pcap("http/basic-auth-with-colon.pcap"), DefaultConfig())
	if len(c.creds) != 1 || c.creds[0].User != "test" || c.creds[0].PassLen != 4 || c.creds[0].Mechanism != "Basic" || c.creds[0].Result != textconn.Accepted {
		t.Errorf("basic: %+v", c.creds)
	}
	c, _ = runFile(t, pcap("http/http-basicauth.pcap"), DefaultConfig())
	if len(c.creds) != 1 || c.creds[0].User != "userrrrr" || c.creds[0].PassLen != len("passworddddd") {
		t.Errorf("basic: %+v", c.creds)
	}
}

func form0(p *Post) string {
	if len(p.Form) == 0 {
		return string(p.Body)
	}
	return p.Form[0].Name
}
