// Package telnet finds the login of a Telnet session (RFC 854) where it
// can be told: the server prompts "login:" (or "Username:"), the client
// types a name, the server prompts "Password:", the client types a
// password it does not echo, and the server's next words say whether it
// was accepted ("Login incorrect", "Access denied" ...) or not. Option
// negotiation (IAC sequences) is removed first. Only the password's length
// is kept; a session that does not follow the pattern yields nothing.
package telnet

import (
	"bytes"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// maxField bounds a typed user name or password; maxWatch the server
// text looked at after the password.
const (
	maxField = 256
	maxWatch = 1024
)

type state uint8

const (
	waitLogin  state = iota // waiting for a login prompt
	readUser                // the client is typing its name
	waitPass                // waiting for a password prompt
	readPass                // the client is typing its password
	waitResult              // waiting for the server's verdict
	done
)

// Conn parses one Telnet connection.
type Conn struct {
	login   func(*textconn.Login)
	st      state
	user    []byte
	passLen int
	at      time.Time
	prompt  []byte // recent server text, for prompts and the verdict
	iac     [2]uint8
	now     time.Time
}

// NewConn returns a parser calling login once per login attempt.
func NewConn(login func(*textconn.Login)) *Conn { return &Conn{login: login} }

// TLS is always false.
func (c *Conn) TLS() bool { return false }

// Errors is always 0: Telnet has no syntax to get wrong.
func (c *Conn) Errors() int { return 0 }

// Gap: the pattern cannot be followed across a hole.
func (c *Conn) Gap(bool, int) {
	if c.st != done {
		c.st = waitLogin
		c.user, c.prompt = nil, nil
	}
}

// Close reports a login whose verdict was not seen.
func (c *Conn) Close(time.Time) {
	if c.st == waitResult {
		c.emit(textconn.Unknown)
	}
	c.st = done
}

// strip removes IAC sequences (IAC cmd opt, IAC SB ... IAC SE, IAC IAC).
func (c *Conn) strip(i int, b []byte) []byte {
	out := make([]byte, 0, len(b))
	s := &c.iac[i]
	for _, ch := range b {
		switch *s {
		case 0:
			if ch == 255 {
				*s = 1
			} else {
				out = append(out, ch)
			}
		case 1: // after IAC
			switch {
			case ch == 255:
				out = append(out, ch)
				*s = 0
			case ch == 250: // SB
				*s = 3
			case ch >= 251 && ch <= 254: // WILL WONT DO DONT: one option byte
				*s = 2
			default:
				*s = 0
			}
		case 2:
			*s = 0
		case 3: // inside SB, until IAC SE
			if ch == 255 {
				*s = 4
			}
		case 4:
			if ch == 240 {
				*s = 0
			} else {
				*s = 3
			}
		}
	}
	return out
}

// Data feeds bytes of one direction.
func (c *Conn) Data(fromClient bool, b []byte, now time.Time) {
	if c.st == done {
		return
	}
	c.now = now
	i := 1
	if fromClient {
		i = 0
	}
	b = c.strip(i, b)
	if fromClient {
		c.client(b)
		return
	}
	c.prompt = append(c.prompt, b...)
	if len(c.prompt) > maxWatch {
		c.prompt = append(c.prompt[:0], c.prompt[len(c.prompt)-maxWatch/2:]...)
	}
	low := bytes.ToLower(c.prompt)
	switch c.st {
	case waitLogin, readUser:
		if hasPrompt(low, "login:") || hasPrompt(low, "username:") || hasPrompt(low, "user name:") {
			c.st, c.user, c.prompt = readUser, c.user[:0], c.prompt[:0]
		} else if c.st == readUser && hasPrompt(low, "password:") {
			c.st, c.passLen, c.prompt = readPass, 0, c.prompt[:0]
		}
	case waitPass:
		if hasPrompt(low, "password:") {
			c.st, c.passLen, c.prompt = readPass, 0, c.prompt[:0]
		}
	case waitResult:
		for _, bad := range []string{"incorrect", "failed", "denied", "invalid", "bad password", "authentication failure"} {
			if bytes.Contains(low, []byte(bad)) {
				c.emit(textconn.Refused)
				c.st = waitLogin
				if hasPrompt(low, "login:") || hasPrompt(low, "username:") {
					c.st = readUser
				}
				c.prompt = c.prompt[:0]
				return
			}
		}
		if hasPrompt(low, "login:") {
			c.emit(textconn.Refused)
			c.st, c.user, c.prompt = readUser, c.user[:0], c.prompt[:0]
			return
		}
		if bytes.ContainsAny(low, "$#>%") || bytes.Contains(low, []byte("last login")) || bytes.Contains(low, []byte("welcome")) {
			c.emit(textconn.Accepted)
			c.st = done
		}
	}
}

// hasPrompt reports whether text ends with a prompt (trailing spaces allowed).
func hasPrompt(text []byte, p string) bool {
	return bytes.HasSuffix(bytes.TrimRight(text, " \t"), []byte(p))
}

func (c *Conn) client(b []byte) {
	for _, ch := range b {
		switch c.st {
		case readUser:
			switch {
			case ch == '\r' || ch == '\n':
				if len(c.user) > 0 {
					c.st, c.at = waitPass, c.now
				}
			case ch == 8 || ch == 127: // backspace
				if len(c.user) > 0 {
					c.user = c.user[:len(c.user)-1]
				}
			case ch == 0:
			case len(c.user) < maxField:
				c.user = append(c.user, ch)
			}
		case readPass:
			switch {
			case ch == '\r' || ch == '\n':
				c.st = waitResult
			case ch == 8 || ch == 127:
				if c.passLen > 0 {
					c.passLen--
				}
			case ch == 0:
			case c.passLen < maxField:
				c.passLen++
			}
		}
	}
}

func (c *Conn) emit(r textconn.Result) {
	if c.login != nil && len(c.user) > 0 {
		c.login(&textconn.Login{Time: c.at, Mechanism: "telnet", User: string(c.user), PassLen: c.passLen, Result: r})
	}
	c.user, c.passLen = c.user[:0], 0
}
