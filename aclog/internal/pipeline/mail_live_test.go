package pipeline_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/acstore/acstore/aclog/internal/pipeline"
	"github.com/acstore/acstore/internal/testenv"
)

// smtpServer is a minimal SMTP server (RFC 5321 subset: EHLO, AUTH PLAIN,
// MAIL, RCPT, DATA, RSET, QUIT) that keeps the messages it receives.
type smtpServer struct {
	ln   net.Listener
	msgs chan []byte
}

func newSMTPServer(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, msgs: make(chan []byte, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 mx.test.example ESMTP ready")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			tp.PrintfLine("250-mx.test.example\r\n250-8BITMIME\r\n250 AUTH PLAIN")
		case "AUTH":
			tp.PrintfLine("235 2.7.0 Authentication successful")
		case "MAIL", "RCPT", "RSET", "NOOP":
			tp.PrintfLine("250 OK")
		case "DATA":
			tp.PrintfLine("354 End data with <CR><LF>.<CR><LF>")
			b, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			s.msgs <- b
			tp.PrintfLine("250 OK queued")
		case "QUIT":
			tp.PrintfLine("221 Bye")
			return
		default:
			tp.PrintfLine("502 unknown")
		}
	}
}

type liveAttachment struct {
	name, typ, cte string
	data           []byte
}

// buildMessage writes a real MIME message: a quoted-printable UTF-8 text
// part and the attachments in their transfer encodings.
func buildMessage(subject, from, to, body string, atts []liveAttachment) []byte {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fmt.Fprintf(&buf, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%d@live.test>\r\nDate: %s\r\nX-Mailer: acstore-live-test\r\n"+
		"X-Priority: 1\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=%q\r\n\r\n",
		from, to, subject, rand.Uint64(), time.Now().Format(time.RFC1123Z), mw.Boundary())
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	w, _ := mw.CreatePart(h)
	qw := quotedprintable.NewWriter(w)
	qw.Write([]byte(body))
	qw.Close()
	for _, a := range atts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", a.typ)
		h.Set("Content-Transfer-Encoding", a.cte)
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.name}))
		w, _ := mw.CreatePart(h)
		switch a.cte {
		case "base64":
			enc := base64.StdEncoding.EncodeToString(a.data)
			for len(enc) > 76 {
				fmt.Fprintf(w, "%s\r\n", enc[:76])
				enc = enc[76:]
			}
			fmt.Fprintf(w, "%s\r\n", enc)
		default:
			qw := quotedprintable.NewWriter(w)
			qw.Write(a.data)
			qw.Close()
		}
	}
	mw.Close()
	return buf.Bytes()
}

// TestLiveMail sends mail with attachments through net/smtp to a real
// server on loopback while aclog captures live, and finds the decoded
// subjects (UTF-8 and GBK), the bodies and the byte-identical attachments
// in the M rows and the X bundle.
func TestLiveMail(t *testing.T) {
	testenv.Root(t, "live capture")
	srv := newSMTPServer(t)
	port := srv.ln.Addr().(*net.TCPAddr).Port

	root := t.TempDir()
	var cfg pipeline.Config
	cfg.RegisterFlags(newFlagSet())
	cfg.Root, cfg.Gateway, cfg.Iface = root, gw, "lo"
	cfg.Filter = fmt.Sprintf("tcp port %d", port)
	cfg.LoadInterval = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.DiscardHandler)
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	time.Sleep(500 * time.Millisecond)

	rng := rand.New(rand.NewPCG(7, 9))
	binary := make([]byte, 150_000)
	for i := range binary {
		binary[i] = byte(rng.Uint32())
	}
	gbk, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("季度报告：附件请查收"))
	png := append([]byte("\x89PNG\r\n\x1a\n"), binary[:2000]...)
	mails := []struct {
		rawSubject, subject, body string
		atts                      []liveAttachment
	}{
		{mime.BEncoding.Encode("UTF-8", "测试邮件 — résumé ✓"), "测试邮件 — résumé ✓", "你好，这是正文。\nLine two with ünïcode.\n",
			[]liveAttachment{
				{"data.bin", "application/octet-stream", "base64", binary},
				{"说明.txt", "text/plain; charset=utf-8", "quoted-printable", []byte("纯文本附件 = quoted-printable\r\nsecond line\r\n")},
			}},
		{"=?GBK?B?" + base64.StdEncoding.EncodeToString(gbk) + "?=", "季度报告：附件请查收", "Quarterly report attached.\n",
			[]liveAttachment{
				{"report.csv", "text/csv", "quoted-printable", []byte("a,b,c\r\n1,2,3\r\n=tricky=\r\n")},
				{"chart.png", "image/png", "base64", png},
			}},
	}
	auth := smtp.PlainAuth("", "alice@test.example", "s3cret-pass", "127.0.0.1")
	for _, m := range mails {
		raw := buildMessage(m.rawSubject, "Alice <alice@test.example>", "Bob <bob@test.example>", m.body, m.atts)
		if err := smtp.SendMail(fmt.Sprintf("127.0.0.1:%d", port), auth, "alice@test.example",
			[]string{"bob@test.example", "carol@test.example"}, raw); err != nil {
			t.Fatal(err)
		}
		<-srv.msgs
	}
	// A malformed message: multipart without a boundary, which the old
	// system stored with parse_sign 0.
	bad := []byte("From: Alice <alice@test.example>\r\nTo: bob@test.example\r\nSubject: broken\r\n" +
		"Message-ID: <broken@live.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\nno parts here\r\n")
	if err := smtp.SendMail(fmt.Sprintf("127.0.0.1:%d", port), nil, "alice@test.example", []string{"bob@test.example"}, bad); err != nil {
		t.Fatal(err)
	}
	<-srv.msgs
	time.Sleep(500 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	rows := readRows(t, root, 'M')
	bundles := readBundles(t, root)
	if len(rows) != len(mails)+1 {
		t.Fatalf("%d M rows, want %d", len(rows), len(mails)+1)
	}
	today := time.Now().Format(time.DateOnly)
	for _, r := range rows {
		// Seed 000: file_path names the capture (live: the interface),
		// insert_time the day the row was stored, len the IP length of
		// the packet that ended the message (over 40: headers and data).
		if n, _ := strconv.Atoi(r["len"]); r["file_path"] != "live:lo" || r["insert_time"] != today || n <= 40 || n > 65535 {
			t.Errorf("M row file_path %q insert_time %q len %q", r["file_path"], r["insert_time"], r["len"])
		}
		if r["message_id"] == "<broken@live.test>" && (r["parse_sign"] != "0" || r["parse_status"] != "malformed" || r["image_sign"] != "0") {
			t.Errorf("malformed mail: parse_sign %s parse_status %s image_sign %s", r["parse_sign"], r["parse_status"], r["image_sign"])
		}
	}
	contents := readBundleContents(t, root)
	for i, m := range mails {
		var row map[string]string
		for _, r := range rows {
			if r["mail_subject"] == m.subject {
				row = r
			}
		}
		if row == nil {
			t.Errorf("mail %d: no M row with subject %q (rows: %v)", i, m.subject, rows)
			continue
		}
		if row["mail_content"] != strings.ReplaceAll(m.body, "\n", "\r\n") || row["env_from"] != "alice@test.example" ||
			row["env_to"] != "bob@test.example, carol@test.example" || row["mail_from"] != "Alice <alice@test.example>" ||
			row["login"] != "alice@test.example" || row["x_mail"] != "acstore-live-test" || row["mail_priority"] != "1" ||
			row["direction"] != "send" || row["parse_sign"] != "1" || row["parse_status"] != "ok" || row["ttl"] != "64" ||
			row["image_sign"] != map[bool]string{false: "0", true: "1"}[i == 1] {
			t.Errorf("mail %d row %v", i, row)
		}
		for _, a := range m.atts {
			sum := sha256.Sum256(a.data)
			h := hex.EncodeToString(sum[:])
			if !strings.Contains(row["attachments"], h+" "+fmt.Sprint(len(a.data))) || !strings.Contains(row["attachments"], a.name) {
				t.Errorf("mail %d: attachments %q lacks %s %s", i, row["attachments"], h, a.name)
			}
			if _, ok := bundles[h]; !ok || !bytes.Equal(contents[h], a.data) {
				t.Errorf("mail %d: %s not byte-identical in the X bundle", i, a.name)
			}
		}
	}
	creds := readRows(t, root, 'C')
	if len(creds) != len(mails) || creds[0]["login"] != "alice@test.example" || creds[0]["pass_len"] != "11" || creds[0]["success"] != "1" {
		t.Errorf("C rows %v", creds)
	}
	for _, c := range creds {
		for _, v := range c {
			if strings.Contains(v, "s3cret") {
				t.Fatalf("a password was stored: %v", c)
			}
		}
	}
}

func readBundleContents(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join(root, "sync", gw, "*", "*_X.dat"))
	for _, p := range paths {
		for k, v := range bundleFile(t, p) {
			out[k] = v
		}
	}
	return out
}
