package record

import (
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/aclog/internal/proto/form"
	"github.com/acstore/acstore/aclog/internal/proto/mail"
	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// Mail writes an M row, each column meaning what the README says ("M and
// the mail tables it replaces"); the attachments go to the window's X
// bundle.
func (r *Recorder) Mail(m *audit.Mail) {
	dir := "receive"
	if m.Send {
		dir = "send"
	}
	host := m.Helo
	if host == "" {
		host = m.ServerName
	}
	e := r.sp.Begin('M', m.Time)
	r.endpoints(e, m.Client, m.Server)
	e.Str(m.Proto).Str(m.Command).Str(dir)
	if m.IPLen > 0 {
		e.Uint(uint64(m.IPLen))
	} else {
		e.Null()
	}
	e.Uint(uint64(m.TTL)).StrOrNull(host).StrOrNull(m.User).StrOrNull(m.EnvFrom).StrOrNull(strings.Join(m.EnvTo, ", "))
	size := uint64(min(max(m.Size, 0), 1<<32-1))
	stored := r.cfg.Now().Format(time.DateOnly)
	msg := m.Message
	if msg == nil {
		// A STARTTLS note: nothing of the message can be read, and a
		// message not parsed is a failed one: parse_sign 0, status
		// "encrypted".
		for range 9 {
			e.Null()
		}
		e.Uint(0).StrOrNull(r.source).Uint(0).Uint(0).Str(stored).Uint(size).Null().Str("encrypted")
		r.commit()
		return
	}
	e.StrOrNull(mail.JoinAddresses(msg.From)).StrOrNull(mail.JoinAddresses(msg.To)).StrOrNull(mail.JoinAddresses(msg.Cc)).
		StrOrNull(msg.Mailer).StrOrNull(msg.Subject)
	if msg.Priority > 0 {
		e.Uint(uint64(msg.Priority))
	} else {
		e.Null()
	}
	e.StrOrNull(msg.MessageID)
	if msg.Date.IsZero() {
		e.Null()
	} else {
		e.Time(msg.Date.In(m.Time.Location()).Truncate(time.Second))
	}
	e.StrOrNull(msg.Body)
	e.Uint(flagValue(msg.BodyCut))
	files, image := r.mailAttachments(m)
	sign, status := mailStatus(m)
	e.StrOrNull(r.source).Uint(flagValue(image)).Uint(sign).
		Str(stored).Uint(size).StrOrNull(strings.Join(files, "\n")).Str(status)
	r.commit()
}

// mailAttachments keeps m's attachments for the window's X bundle and
// returns M's attachments lines and whether one of them is an image.
func (r *Recorder) mailAttachments(m *audit.Mail) (files []string, image bool) {
	msg := m.Message
	for i := range msg.Attachments {
		a := &msg.Attachments[i]
		ref := r.storeX(m.Time, a.Name, a.Type, a.Content, a.Cut)
		files = append(files, fileLine(ref, a.Size, a.Type, a.Name))
		image = image || a.IsImage()
	}
	return files, image
}

// mailStatus is M's parse_sign and status of a parsed message.
func mailStatus(m *audit.Mail) (sign uint64, status string) {
	msg := m.Message
	sign, status = uint64(1), "ok"
	switch {
	case msg.Malformed:
		sign, status = 0, "malformed"
	case m.Cut || msg.HeaderOnly || msg.BodyCut:
		status = "partial"
	}
	return sign, status
}

// fileLine is one line of M's attachments / P's file_names: sha256 (or -), size,
// type, name.
func fileLine(ref string, size int64, typ, name string) string {
	return ref + " " + strconv.FormatInt(size, 10) + " " + typ + " " + name
}

func flagValue(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Credential writes a C row. The event carries no password, only its
// length.
func (r *Recorder) Credential(c *audit.Credential) {
	e := r.sp.Begin('C', c.Time)
	r.endpoints(e, c.Client, c.Server)
	e.Str(c.Proto).Str(c.Mechanism).StrOrNull(c.ServerName).Str(c.User).Uint(uint64(max(c.PassLen, 0)))
	switch c.Result {
	case textconn.Accepted:
		e.Uint(1)
	case textconn.Refused:
		e.Uint(0)
	default:
		e.Null()
	}
	r.commit()
}

// File writes an O row; the content goes to the window's X bundle.
func (r *Recorder) File(f *audit.FileTransfer) {
	dir := "download"
	if f.Upload {
		dir = "upload"
	}
	e := r.sp.Begin('O', f.Time)
	r.endpoints(e, f.Client, f.Server)
	e.Str(f.Proto).Str(f.Command).Str(f.Name).Uint(uint64(max(f.Size, 0))).Str(dir)
	if f.Reply > 0 {
		e.Uint(uint64(f.Reply))
	} else {
		e.Null()
	}
	ref := "-"
	if !f.NoData {
		name := f.Name
		if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
			name = name[i+1:]
		}
		ref = r.storeX(f.Time, name, "application/octet-stream", f.Content, f.Cut)
	}
	if ref == "-" {
		e.Null()
	} else {
		e.Str(ref)
	}
	r.commit()
}

// Post writes a P row; uploaded files (or a body that is not a form) go
// to the window's X bundle.
func (r *Recorder) Post(p *audit.Post) {
	var lines []string
	xref := ""
	for _, f := range p.Files {
		ref := r.storeX(p.Time, f.Name, f.Type, f.Content, f.Cut)
		lines = append(lines, fileLine(ref, f.Size, f.Type, f.Name))
		if xref == "" && ref != "-" {
			xref = ref
		}
	}
	if p.Body != nil && len(p.Files) == 0 {
		if ref := r.storeX(p.Time, "body", p.ContentType, p.Body, p.Cut); ref != "-" {
			xref = ref
		}
	}
	e := r.sp.Begin('P', p.Time)
	r.endpoints(e, p.Client, p.Server)
	e.StrOrNull(p.Host).Str(p.URI).StrOrNull(p.ContentType).StrOrNull(form.Encode(p.Form)).
		StrOrNull(strings.Join(lines, "\n")).Uint(uint64(max(p.BodyLen, 0))).StrOrNull(xref)
	r.commit()
}

// Chat writes an I row.
func (r *Recorder) Chat(c *audit.Chat) {
	e := r.sp.Begin('I', c.Time)
	r.endpoints(e, c.Client, c.Server)
	e.Str(c.Proto).StrOrNull(c.Sender).StrOrNull(c.Receiver).Str(c.Text)
	r.commit()
}
