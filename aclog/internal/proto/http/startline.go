package http

import "bytes"

// splitLine returns the first line of b (without CRLF) and the rest.
func splitLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.TrimSuffix(b, []byte{'\r'}), nil
	}
	return bytes.TrimSuffix(b[:i], []byte{'\r'}), b[i+1:]
}

// ParseRequestLine splits "METHOD SP URI SP VERSION", accepting a missing
// URI or version (tshark and servers see "OPTIONS HTTP/1.1" as URI
// "HTTP/1.1", and "OPTIONS" alone as a request with an empty URI). The method
// must be a token (RFC 9110 5.6.2) of at most 32 characters.
func ParseRequestLine(line []byte) (method, uri, version string, ok bool) {
	m, u, v, ok := splitRequestLine(line)
	return string(m), string(u), string(v), ok
}

func splitRequestLine(line []byte) (method, uri, version []byte, ok bool) {
	m, rest, _ := bytes.Cut(line, []byte{' '})
	if len(m) == 0 || len(m) > 32 {
		return nil, nil, nil, false
	}
	for _, ch := range m {
		if !isTokenChar(ch) {
			return nil, nil, nil, false
		}
	}
	rest = bytes.TrimLeft(rest, " ")
	u, v, _ := bytes.Cut(rest, []byte{' '})
	return m, u, bytes.TrimSpace(v), true
}

// Values most requests and responses share: taken as they are instead of
// allocating a copy each time.
var (
	commonMethods      = []string{"GET", "POST", "HEAD", "PUT", "OPTIONS", "DELETE", "CONNECT"}
	commonVersions     = []string{"HTTP/1.1", "HTTP/1.0"}
	commonContentTypes = []string{"text/html", "text/html; charset=utf-8", "text/html; charset=UTF-8", "application/json",
		"text/plain", "text/css", "application/javascript", "image/png", "image/jpeg", "image/gif"}
)

// intern returns b as one of common when it is one, else "" and false.
func intern(b []byte, common []string) (string, bool) {
	for _, c := range common {
		if string(b) == c {
			return c, true
		}
	}
	return "", false
}

// internOrCopy returns b as a string, sharing a common value.
func internOrCopy(b []byte, common []string) string {
	if s, ok := intern(b, common); ok {
		return s
	}
	return string(b)
}

func parseStatusLine(line []byte) (int, bool) {
	if !bytes.HasPrefix(line, []byte("HTTP/")) {
		return 0, false
	}
	_, rest, _ := bytes.Cut(line, []byte{' '})
	rest = bytes.TrimLeft(rest, " ")
	if len(rest) < 3 {
		return 0, false
	}
	code := 0
	for _, ch := range rest[:3] {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		code = code*10 + int(ch-'0')
	}
	if len(rest) > 3 && rest[3] != ' ' && rest[3] != '\r' {
		return 0, false
	}
	return code, true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}
