package pcapgen

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

func (g *generator) httpFlow(f *flow) {
	g.stats.HTTPSessions++
	f.open()
	host := g.hosts[g.rng.IntN(len(g.hosts))]
	for range 1 + g.rng.IntN(5) {
		g.stats.HTTPRequests++
		req := fmt.Appendf(nil, "GET /static/%d/page-%d.html?session=%x HTTP/1.1\r\nHost: %s\r\n"+
			"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n"+
			"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: zh-CN,zh;q=0.9\r\n"+
			"Referer: http://%s/\r\nConnection: keep-alive\r\n\r\n", g.rng.IntN(100), g.rng.IntN(10000), g.rng.Uint64(), host, host)
		f.send(true, req)
		// Response sizes: mostly small objects, some large ones.
		size := 200 + g.rng.IntN(4000)
		if g.rng.IntN(8) == 0 {
			size = 10000 + g.rng.IntN(90000)
		}
		resp := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n", size)
		for size > 0 {
			c := g.body(size)
			resp = append(resp, c...)
			size -= len(c)
		}
		f.send(false, resp)
	}
	f.close()
}

// smtpFlow is one SMTP session: greeting, EHLO, then one or two messages
// (MAIL FROM, RCPT TO, DATA with a MIME message), QUIT.
func (g *generator) smtpFlow(f *flow) {
	g.stats.SMTPSessions++
	f.open()
	f.send(false, []byte("220 mx.example.com ESMTP ready\r\n"))
	f.send(true, fmt.Appendf(nil, "EHLO pc%d.corp.example\r\n", g.nextIP%4000))
	f.send(false, []byte("250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250 8BITMIME\r\n"))
	for range 1 + g.rng.IntN(2) {
		g.stats.Mails++
		g.stats.Attachments++
		from := fmt.Sprintf("user%d@corp.example", g.rng.IntN(4000))
		rcpts := 1 + g.rng.IntN(3)
		cmd := fmt.Appendf(nil, "MAIL FROM:<%s>\r\n", from)
		for i := range rcpts {
			cmd = fmt.Appendf(cmd, "RCPT TO:<rcpt%d-%d@partner.example>\r\n", i, g.rng.IntN(100000))
		}
		cmd = append(cmd, "DATA\r\n"...)
		f.send(true, cmd)
		reply := []byte("250 2.1.0 Ok\r\n")
		for range rcpts {
			reply = append(reply, "250 2.1.5 Ok\r\n"...)
		}
		f.send(false, append(reply, "354 End data with <CR><LF>.<CR><LF>\r\n"...))
		msg := g.mimeMessage(from)
		g.stats.MailBytes += int64(len(msg))
		f.send(true, msg)
		f.send(false, []byte("250 2.0.0 Ok: queued\r\n"))
	}
	f.send(true, []byte("QUIT\r\n"))
	f.send(false, []byte("221 2.0.0 Bye\r\n"))
	f.close()
}

// mimeMessage writes a message with a text part and a base64 attachment,
// dot-terminated as DATA sends it.
func (g *generator) mimeMessage(from string) []byte {
	size := 4<<10 + g.rng.IntN(196<<10)
	m := fmt.Appendf(nil, "From: =?UTF-8?B?5byg5LiJ?= <%s>\r\nTo: partner@partner.example\r\n"+
		"Subject: =?UTF-8?B?5pyI5bqm5oql5ZGK?= %d\r\nMessage-ID: <%x@corp.example>\r\nDate: Thu, 01 Jan 2026 10:00:00 +0800\r\n"+
		"X-Mailer: pcapgen\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n"+
		"--=_b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
		"Please find the report attached. =E4=BD=A0=E5=A5=BD\r\n\r\n"+
		"--=_b\r\nContent-Type: application/octet-stream; name=\"report-%d.bin\"\r\nContent-Transfer-Encoding: base64\r\n"+
		"Content-Disposition: attachment; filename=\"report-%d.bin\"\r\n\r\n",
		from, g.rng.IntN(1000), g.rng.Uint64(), size, size)
	raw := make([]byte, 0, size)
	for len(raw) < size {
		raw = append(raw, g.body(size-len(raw))...)
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		m = append(m, enc[:76]...)
		m = append(m, '\r', '\n')
		enc = enc[76:]
	}
	m = append(m, enc...)
	return append(m, "\r\n--=_b--\r\n.\r\n"...)
}

func (g *generator) dnsFlow(f *flow) {
	g.stats.DNSQueries++
	id := uint16(g.rng.Uint32())
	name := g.hosts[g.rng.IntN(len(g.hosts))]
	q := binary.BigEndian.AppendUint16(nil, id)
	q = append(q, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	q = appendName(q, name)
	q = append(q, 0, 1, 0, 1)
	r := append([]byte(nil), q...)
	r[2], r[3] = 0x81, 0x80
	answers := 1 + g.rng.IntN(3)
	r[7] = byte(answers)
	for range answers {
		r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 198, 18, byte(g.rng.IntN(256)), byte(g.rng.IntN(256)))
	}
	f.segs = append(f.segs, seg{true, 0, q}, seg{false, 0, r})
}

func appendName(b []byte, name string) []byte {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '.' {
			b = append(b, byte(i-start))
			b = append(b, name[start:i]...)
			start = i + 1
		}
	}
	return append(b, 0)
}

func (g *generator) tlsFlow(f *flow) {
	g.stats.TLSSessions++
	f.open()
	f.send(true, g.clientHello(g.hosts[g.rng.IntN(len(g.hosts))]))
	// ServerHello, ChangeCipherSpec, then the encrypted rest of the
	// handshake (certificate chain) as application data records.
	sh := g.serverHello()
	sh = append(sh, 0x14, 0x03, 0x03, 0x00, 0x01, 0x01)
	sh = g.appRecords(sh, 2500+g.rng.IntN(2500))
	f.send(false, sh)
	f.send(true, g.appRecords(nil, 80))
	for range 1 + g.rng.IntN(4) {
		f.send(true, g.appRecords(nil, 300+g.rng.IntN(600)))
		f.send(false, g.appRecords(nil, 500+g.rng.IntN(30000)))
	}
	f.close()
}

// appRecords appends application_data records carrying n bytes.
func (g *generator) appRecords(b []byte, n int) []byte {
	for n > 0 {
		k := min(n, 16384)
		b = append(b, 0x17, 0x03, 0x03, byte(k>>8), byte(k))
		for k2 := k; k2 > 0; {
			c := g.body(k2)
			b = append(b, c...)
			k2 -= len(c)
		}
		n -= k
	}
	return b
}

func (g *generator) clientHello(sni string) []byte {
	var ext []byte
	// server_name
	ext = binary.BigEndian.AppendUint16(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sni)+5))
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sni)+3))
	ext = append(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sni)))
	ext = append(ext, sni...)
	// ALPN h2, http/1.1
	ext = append(ext, 0, 16, 0, 14, 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1')
	// supported_versions: TLS 1.3, 1.2
	ext = append(ext, 0, 43, 0, 5, 4, 3, 4, 3, 3)
	// key_share x25519 (32 bytes) and padding to a typical 512-byte hello
	ext = append(ext, 0, 51, 0, 38, 0, 36, 0, 29, 0, 32)
	ext = append(ext, g.body(32)...)
	body := []byte{3, 3}
	body = append(body, g.body(32)...) // random
	body = append(body, 32)            // session id
	body = append(body, g.body(32)...)
	body = append(body, 0, 8, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2f) // suites
	body = append(body, 1, 0)                                                 // compression
	pad := max(0, 508-len(body)-2-len(ext)-4)
	ext = append(ext, 0, 21, byte(pad>>8), byte(pad))
	ext = append(ext, make([]byte, pad)...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	return record(0x16, handshake(1, body))
}

func (g *generator) serverHello() []byte {
	body := []byte{3, 3}
	body = append(body, g.body(32)...)
	body = append(body, 32)
	body = append(body, g.body(32)...)
	body = append(body, 0x13, 0x01, 0) // TLS_AES_128_GCM_SHA256, no compression
	ext := []byte{0, 43, 0, 2, 3, 4, 0, 51, 0, 36, 0, 29, 0, 32}
	ext = append(ext, g.body(32)...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	return record(0x16, handshake(2, body))
}

func handshake(typ byte, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

func record(typ byte, body []byte) []byte {
	return append([]byte{typ, 3, 1, byte(len(body) >> 8), byte(len(body))}, body...)
}
