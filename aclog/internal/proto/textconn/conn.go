package textconn

import "time"

// Conn is what every text protocol's connection parser holds besides its
// own state: the two directions, the time of the bytes being parsed, the
// switch to TLS and the lines that could not be parsed. A protocol's Conn
// embeds it, hands its callbacks to Init, and has Data, Gap, TLS and Errors
// from it (a protocol whose gaps need more defines its own Gap).
type Conn struct {
	Client, Server Half
	Now            time.Time // of the bytes being parsed
	StartTLS       StartTLS
	BadLines       int // lines the protocol could not parse

	on Callbacks
}

// Callbacks are a protocol's handlers: each direction's lines and bodies,
// and what it records when the session goes encrypted. Nil ones are
// skipped.
type Callbacks struct {
	ClientLine, ServerLine func(line []byte)
	ClientBody, ServerBody func()
	// Encrypted is called once the session went encrypted (both halves
	// already stopped): the protocol notes the switch.
	Encrypted func()
}

// Init sets the protocol's callbacks.
func (c *Conn) Init(on Callbacks) {
	nop := func() {}
	if on.ClientBody == nil {
		on.ClientBody = nop
	}
	if on.ServerBody == nil {
		on.ServerBody = nop
	}
	c.on = on
}

// TLS reports that the connection went encrypted after STARTTLS (STLS in
// POP3, AUTH TLS in FTP).
func (c *Conn) TLS() bool { return c.StartTLS.Encrypted() }

// Errors counts lines that could not be parsed, over-long ones included.
func (c *Conn) Errors() int { return c.BadLines + c.Client.LongLines + c.Server.LongLines }

// Data feeds bytes of one direction. Once the session went encrypted
// nothing more is parsed.
func (c *Conn) Data(fromClient bool, b []byte, now time.Time) {
	c.Now = now
	if c.StartTLS.Data(fromClient, b) {
		c.Encrypted()
		return
	}
	if c.StartTLS.Encrypted() {
		return
	}
	if fromClient {
		c.Client.Feed(b, c.on.ClientLine, c.on.ClientBody)
	} else {
		c.Server.Feed(b, c.on.ServerLine, c.on.ServerBody)
	}
}

// Gap notes n bytes of one direction lost in the capture.
func (c *Conn) Gap(fromClient bool, n int) {
	if fromClient {
		c.Client.Gap(n)
	} else {
		c.Server.Gap(n)
	}
}

// Encrypted marks the session encrypted, stops both directions and lets
// the protocol note it.
func (c *Conn) Encrypted() {
	c.StartTLS.SetEncrypted()
	c.Stop()
	if c.on.Encrypted != nil {
		c.on.Encrypted()
	}
}

// Stop stops parsing both directions.
func (c *Conn) Stop() {
	c.Client.Stop()
	c.Server.Stop()
}

// End ends the connection's parsing at its close: a switch to TLS the
// server accepted, with nothing captured after it, counts as made.
func (c *Conn) End() {
	if c.StartTLS.Pending() {
		c.Encrypted()
	}
	c.Stop()
}
