package ftp

import "time"

// Transfer is one file moved by RETR, STOR, STOU or APPE, with the content
// of the data connection that carried it.
type Transfer struct {
	Time   time.Time // of the command
	Verb   string
	Name   string // the command's argument
	Upload bool   // client to server: every verb but RETR
	Reply  int    // final reply code; 0 when none was seen
	Size   int64  // bytes seen on the data connection (else the size the server announced)
	// Content is the data connection's first bytes, up to the cap.
	Content []byte
	// Cut is set when Content is shorter than Size, when data was missing
	// or the data connection did not end, or when no data connection was
	// seen but the server announced a size.
	Cut    bool
	NoData bool // no data connection was captured for the transfer
}

// Control ties one control connection to its data connections: the transfer
// a command starts is reported, once, with the data connection that carried
// it, when both the final reply and the end of the data have been seen, or
// when the next transfer starts, or at Close.
type Control struct {
	xfer       *xfer
	nextData   *Data // opened before its command was seen (passive mode)
	maxContent int
	done       func(*Transfer)
}

type xfer struct {
	cmd     *Command
	replied bool
	data    *Data
}

// Data is one data connection's content.
type Data struct {
	buf  []byte
	size int64
	cut  bool
	done bool
	max  int
}

// NewControl returns the Control of one control connection: its data
// connections keep up to maxContent bytes, and done receives every
// transfer, which it owns from then on.
func NewControl(maxContent int, done func(*Transfer)) *Control {
	return &Control{maxContent: maxContent, done: done}
}

// Add takes bytes of the data connection.
func (d *Data) Add(b []byte) {
	d.size += int64(len(b))
	if room := d.max - len(d.buf); room > 0 {
		if len(b) > room {
			b, d.cut = b[:room], true
		}
		d.buf = append(d.buf, b...)
	} else if len(b) > 0 {
		d.cut = true
	}
}

// Gap counts n bytes of the data connection that were not captured.
func (d *Data) Gap(n int) {
	d.size += int64(n)
	d.cut = true
}

// Start is the Handler's Start: a transfer command was sent. A transfer
// still open is reported first.
func (c *Control) Start(cmd *Command) {
	if c.xfer != nil {
		c.emit()
	}
	c.xfer = &xfer{cmd: cmd, data: c.nextData}
	c.nextData = nil
}

// Replied is the Handler's Done: the final reply to a transfer command
// arrived.
func (c *Control) Replied(cmd *Command) {
	if c.xfer != nil && c.xfer.cmd == cmd {
		c.xfer.replied = true
		c.check()
	}
}

// Attach binds a new data connection to the control connection: to the
// transfer waiting for one, else to the next transfer.
func (c *Control) Attach() *Data {
	d := &Data{max: c.maxContent}
	if c.xfer != nil && c.xfer.data == nil {
		c.xfer.data = d
	} else {
		c.nextData = d
	}
	return d
}

// End says the data connection d, attached to c, ended.
func (c *Control) End(d *Data) {
	d.done = true
	c.check()
}

// Close ends the control connection: a transfer still open is reported.
func (c *Control) Close() {
	if c.xfer != nil {
		c.emit()
	}
}

func (c *Control) check() {
	x := c.xfer
	if x != nil && x.replied && (x.data == nil || x.data.done) {
		c.emit()
	}
}

// emit reports the transfer in progress (file transfers only; listings
// are not files).
func (c *Control) emit() {
	x := c.xfer
	c.xfer = nil
	switch x.cmd.Verb {
	case "RETR", "STOR", "STOU", "APPE":
	default:
		return
	}
	t := &Transfer{
		Time: x.cmd.Time, Verb: x.cmd.Verb, Name: x.cmd.Arg,
		Upload: x.cmd.Verb != "RETR", Reply: x.cmd.Reply, NoData: x.data == nil,
	}
	if d := x.data; d != nil {
		t.Size, t.Content, t.Cut = d.size, d.buf, d.cut || !d.done
	} else if x.cmd.Announced >= 0 {
		// No data connection captured: the size the server announced.
		t.Size, t.Cut = x.cmd.Announced, true
	}
	c.done(t)
}
