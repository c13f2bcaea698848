package textconn

import (
	"bytes"
	"encoding/base64"
	"strings"
	"time"
)

// Result of a login as the server's reply told it.
type Result int8

// Login results.
const (
	Unknown Result = iota // no reply seen
	Accepted
	Refused
)

// Login is one plaintext login attempt. The password itself is never kept:
// only its length.
type Login struct {
	Time      time.Time
	Mechanism string // "USER/PASS", "PLAIN", "LOGIN", "APOP", "CRAM-MD5", ...
	User      string
	PassLen   int // 0 when no password crossed the wire in clear (APOP, CRAM-MD5)
	Result    Result
	Greeting  string // the server's greeting, when seen
}

// Message is one mail message carried by a mail protocol, or a note
// (Command "STARTTLS") that the rest of the connection is encrypted.
type Message struct {
	Time    time.Time
	Command string // DATA, BDAT, RETR, TOP, FETCH, APPEND, STARTTLS
	Send    bool   // client to server (SMTP, IMAP APPEND); else server to client
	Raw     []byte // the message as carried, at most the parser's cap
	Size    int64  // bytes of the message, all of them
	Cut     bool   // Raw is shorter than Size (cap, or a capture gap)
	// SMTP envelope.
	Helo    string
	EnvFrom string
	EnvTo   []string
	// User is the login of the session when one was seen.
	User string
	// Greeting is the server's first line (its name is usually there).
	Greeting string
	// Section is the IMAP FETCH section ("RFC822", "BODY[]",
	// "BODY[HEADER.FIELDS (...)]").
	Section string
}

// Events receives what a parser finds; nil callbacks are skipped.
type Events struct {
	Message func(*Message)
	Login   func(*Login)
}

// Emit helpers that tolerate nil callbacks.
func (e *Events) EmitMessage(m *Message) {
	if e.Message != nil {
		e.Message(m)
	}
}

// EmitLogin reports a login.
func (e *Events) EmitLogin(l *Login) {
	if e.Login != nil {
		e.Login(l)
	}
}

// DecodeBase64 decodes a SASL response, tolerating missing padding.
func DecodeBase64(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	return b, err == nil
}

// DecodePlain splits a SASL PLAIN response (authzid NUL authcid NUL
// password, base64) into the user and the password's length.
func DecodePlain(b64 string) (user string, passLen int, ok bool) {
	b, ok := DecodeBase64(b64)
	if !ok {
		return "", 0, false
	}
	parts := bytes.SplitN(b, []byte{0}, 3)
	if len(parts) != 3 {
		return "", 0, false
	}
	user = string(parts[1])
	if user == "" {
		user = string(parts[0])
	}
	return user, len(parts[2]), true
}

// LooksLikeTLS reports whether b starts with a TLS handshake record, as
// the first bytes after STARTTLS do when the session really went
// encrypted (a capture stored decrypted goes on in clear text).
func LooksLikeTLS(b []byte) bool {
	return len(b) >= 3 && b[0] == 0x16 && b[1] == 3 && b[2] <= 4
}

// StartTLS follows a text protocol's switch to TLS. Once the server has
// accepted STARTTLS (STLS in POP3), the next bytes tell whether the session
// really went encrypted (a TLS record) or the capture holds it decrypted
// (clear text from the client: parse on).
type StartTLS struct {
	state uint8 // 0 none, 1 accepted, 2 encrypted
	At    time.Time
}

// Accept notes that the server accepted the switch at now.
func (s *StartTLS) Accept(now time.Time) { s.state, s.At = 1, now }

// Pending reports a switch accepted but not yet seen to happen.
func (s *StartTLS) Pending() bool { return s.state == 1 }

// Encrypted reports that the session went encrypted.
func (s *StartTLS) Encrypted() bool { return s.state == 2 }

// SetEncrypted marks the session encrypted (at the end of a capture that
// stopped after the switch was accepted).
func (s *StartTLS) SetEncrypted() { s.state = 2 }

// Data looks at the bytes that follow an accepted switch and reports
// whether they show the session going encrypted just now.
func (s *StartTLS) Data(fromClient bool, b []byte) bool {
	if s.state != 1 || len(b) == 0 {
		return false
	}
	if LooksLikeTLS(b) {
		s.state = 2
		return true
	}
	if fromClient {
		s.state = 0
	}
	return false
}

// Verb splits a command line into its upper-cased verb and the argument.
func Verb(line []byte) (string, string) {
	v, arg, _ := bytes.Cut(line, []byte{' '})
	if len(v) > 32 {
		v = v[:32]
	}
	return strings.ToUpper(string(v)), strings.TrimSpace(string(arg))
}

// ServerName picks the host name out of a server greeting ("220
// mx.example.com ESMTP ready", "+OK mail.example.com POP3"): the first word
// that looks like a domain name. It returns "" when there is none.
func ServerName(greeting string) string {
	for _, w := range strings.Fields(greeting) {
		if len(w) > 255 || !strings.Contains(w, ".") || strings.HasSuffix(w, ".") {
			continue
		}
		ok := true
		for i := 0; i < len(w); i++ {
			c := w[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
				ok = false
				break
			}
		}
		if ok && !(w[0] >= '0' && w[0] <= '9') {
			return w
		}
	}
	return ""
}
