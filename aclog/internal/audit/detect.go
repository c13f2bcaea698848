package audit

import (
	"bytes"

	"github.com/acstore/acstore/aclog/internal/proto/http"
	"github.com/acstore/acstore/aclog/internal/proto/tls"
)

// detect decides the protocol from the first bytes of a direction. swap
// reports that the roles are the other way round (the "client" answered).
func (s *tcpStream) detect(fromClient bool, b []byte) (kind streamKind, swap, decided bool) {
	if s.client.Port() == 53 || s.server.Port() == 53 {
		return kindDNS, s.client.Port() == 53 && s.server.Port() != 53, true
	}
	if len(b) < 3 {
		return 0, false, false
	}
	// Server-first protocols: a greeting names them, whichever side the
	// engine took for the client.
	if k := greetingKind(b); k != kindUnknown {
		return k, fromClient, true
	}
	if !tls.LooksLikeTLS(b) {
		if k := textPortKind(s.server.Port()); k != kindUnknown {
			return k, false, true
		}
		if k := textPortKind(s.client.Port()); k != kindUnknown {
			return k, true, true
		}
		if hasPrefixFold(b, "EHLO ") || hasPrefixFold(b, "HELO ") {
			return kindSMTP, !fromClient, true
		}
	}
	if tls.LooksLikeTLS(b) {
		// A ClientHello from the side we called server: swap.
		return kindTLS, !fromClient && len(b) > 5 && b[5] == 1, true
	}
	if bytes.HasPrefix(b, []byte("HTTP/1.")) {
		return kindHTTP, fromClient, true
	}
	if len(b) < len("HTTP/1.") && bytes.HasPrefix([]byte("HTTP/1."), b) {
		return 0, false, len(b) >= maxSniff
	}
	if looksLikeRequest(b, s.server.Port()) {
		return kindHTTP, !fromClient, true
	}
	if len(b) < maxSniff && !bytes.ContainsAny(b, " \r\n") {
		// A method still arriving byte by byte.
		return 0, false, false
	}
	return kindOther, false, true
}

// looksLikeRequest: an upper-case method token followed by a space and a URI
// or by the end of the line (only on well-known HTTP ports, where even a bare
// "OPTIONS" line is HTTP).
func looksLikeRequest(b []byte, port uint16) bool {
	i := 0
	for i < len(b) && i < 32 && (b[i] >= 'A' && b[i] <= 'Z' || b[i] == '_' || b[i] == '-') {
		i++
	}
	if i == 0 || i >= len(b) {
		return false
	}
	switch b[i] {
	case ' ':
		return true
	case '\r', '\n':
		return httpPort(port)
	}
	return false
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && bytes.EqualFold(b[:len(p)], []byte(p))
}

func httpPort(p uint16) bool {
	switch p {
	case 80, 8000, 8008, 8080, 8088, 3128, 3132, 1900, 5985, 11371:
		return true
	}
	return false
}

func (s *tcpStream) setKind(kind streamKind, swap bool) {
	if swap {
		s.client, s.server = s.server, s.client
		s.swapped = !s.swapped
	}
	s.kind = kind
	app := ""
	switch kind {
	case kindHTTP:
		if s.http != nil {
			s.http.Reset() // a recycled stream's
		} else {
			s.http = http.NewConn(s.emitHTTP)
		}
		s.http.KeepBodies(s.e.cfg.MaxFileBytes)
		app = "http"
	case kindTLS:
		s.tls = tls.NewConn()
		app = "tls"
	case kindDNS:
		app = "dns"
	case kindSMTP, kindPOP3, kindIMAP, kindFTP, kindIRC, kindXMPP, kindTelnet:
		s.text, app = s.newText(kind)
	default:
		s.done = true
	}
	if s.sess != nil && app != "" {
		s.sess.ev.App = appNamed(app)
	}
}
