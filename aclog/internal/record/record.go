// Package record turns aclog's audit events into rows of the log tables:
// A (sessions), U (HTTP requests), S (TLS handshakes), Q (DNS queries),
// M (mail), C (credentials), O (file transfers), P (posts) and I (chat)
// one per event, F (traffic per user and app per minute) and T (online time
// per user per window) summed from the sessions. It names the user and
// group of each address and the app of each session from the config
// tables, and writes the rows through a logfile.Spool. Attachments,
// uploads and transferred files go to the window's attachment bundle (X),
// written when the window closes; rows point at them by sha256. Log
// reduction (ReduceConfig) drops redundant U rows and folds repeated U and
// Q rows into the row it keeps, which counts them.
package record

import (
	"net/netip"
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/aclog/internal/proto/dns"
	"github.com/acstore/acstore/aclog/internal/proto/tls"
	"github.com/acstore/acstore/internal/configtab"
	"github.com/acstore/acstore/internal/logfile"
)

// Recorder is an audit.Sink writing rows. It is not safe for concurrent
// use: the engine calls it from one goroutine.
type Recorder struct {
	sp   logfile.RowWriter
	conf *configtab.Tables
	cfg  Config

	xwin   map[time.Time]*xWindow
	reduce reducer
	stats  Stats
	source string // the capture the events come from: M's file_path

	// app of a connection, learnt from its HTTP Host or TLS SNI before the
	// session ends.
	connApp map[connKey]configtab.App
	// apps named by the protocol recognised, by that name ("http"): few
	recognised map[string]configtab.App

	sums sums
	// due is the earliest minute or window pending in flows and online
	// (zero when none): Advance looks at them only once it has ended.
	due time.Time

	errs   uint64
	lastEr error

	scratch []byte          // reused from row to row
	holdEnc logfile.Encoder // the rows held for folding are encoded with it
}

type connKey struct{ client, server netip.AddrPort }

// New returns a Recorder writing to sp and naming with conf; cfg says
// where attachment bundles go and how rows are reduced (start from
// DefaultConfig).
func New(sp logfile.RowWriter, conf *configtab.Tables, cfg Config) *Recorder {
	cfg.Validate()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Recorder{
		sp: sp, conf: conf, cfg: cfg,
		xwin:       make(map[time.Time]*xWindow),
		reduce:     newReducer(cfg.Reduce),
		connApp:    make(map[connKey]configtab.App),
		recognised: make(map[string]configtab.App),
		sums:       newSums(),
	}
}

// Stats returns a copy of the recorder's counters.
func (r *Recorder) Stats() Stats {
	s := r.stats
	s.Reduced = make(map[string]uint64, 3)
	for _, c := range []struct {
		rule string
		n    uint64
	}{{"static", r.reduce.static}, {"repeat-U", r.reduce.repeatU}, {"repeat-Q", r.reduce.repeatQ}} {
		if c.n > 0 {
			s.Reduced[c.rule] = c.n
		}
	}
	return s
}

// Errors reports how many rows could not be written and the last reason.
func (r *Recorder) Errors() (uint64, error) { return r.errs, r.lastEr }

func (r *Recorder) commit() {
	// A row kept though the frame it completed failed is not lost: the
	// spool writes it again, and reports the failure itself.
	if err := r.sp.Commit(); logfile.Refused(err) {
		r.errs++
		r.lastEr = err
	}
}

func (r *Recorder) endpoints(e *logfile.Encoder, client, server netip.AddrPort) {
	e.Addr(client.Addr()).Uint(uint64(client.Port())).Addr(server.Addr()).Uint(uint64(server.Port()))
	r.who(e, client.Addr())
}

// who adds the user and group of address a (configtab.Tables.Who) without
// building an unknown address's text first.
func (r *Recorder) who(e *logfile.Encoder, a netip.Addr) {
	switch u, ok := r.conf.User(a); {
	case ok:
		e.Str(u.Name).StrOrNull(u.Group)
	case a.IsValid():
		e.Addr(a).Null()
	default:
		user, group := r.conf.Who(a)
		e.Str(user).StrOrNull(group)
	}
}

// appOf names the app of a connection: by host or SNI when one was seen,
// else by the server port, else by the protocol recognised on it.
func (r *Recorder) appOf(proto audit.Proto, client, server netip.AddrPort, recognised string) configtab.App {
	if a, ok := r.connApp[connKey{client, server}]; ok {
		return a
	}
	if a, ok := r.conf.ByPort(proto.String(), server.Port()); ok {
		return a
	}
	if recognised != "" {
		a, ok := r.recognised[recognised]
		if !ok {
			a = configtab.App{Name: strings.ToUpper(recognised), Type: "unknown"}
			r.recognised[recognised] = a
		}
		return a
	}
	return configtab.App{Name: "other", Type: "unknown"}
}

func (r *Recorder) learnHost(client, server netip.AddrPort, host string) (configtab.App, bool) {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	a, ok := r.conf.ByHost(host)
	if ok {
		r.connApp[connKey{client, server}] = a
	}
	return a, ok
}

// Session writes an A row and adds the session to the F and T sums.
func (r *Recorder) Session(s *audit.Session) {
	app := r.appOf(s.Proto, s.Client, s.Server, s.App)
	delete(r.connApp, connKey{s.Client, s.Server})
	e := r.sp.Begin('A', s.Start)
	r.endpoints(e, s.Client, s.Server)
	e.Str(s.Proto.String()).Str(app.Type).Str(app.Name).
		Uint(s.ClientBytes).Uint(s.ServerBytes).Uint(s.ClientPackets).Uint(s.ServerPackets).
		Time(s.End).Str(s.Reason.String())
	r.commit()
	r.addFlow(s, app)
	r.addOnline(s)
}

// SetSource names the capture the next events come from: a capture file's
// path, or live:IFACE. M rows carry it as file_path.
func (r *Recorder) SetSource(s string) { r.source = s }

// HTTP writes a U row, unless the log reduction drops it or folds it into
// a row it holds.
func (r *Recorder) HTTP(h *audit.HTTPRequest) {
	app, ok := r.learnHost(h.Client, h.Server, h.Host)
	if !ok {
		app = r.appOf(audit.TCP, h.Client, h.Server, "http")
	}
	if r.reduce.staticResource(h) {
		r.reduce.static++
		return
	}
	if r.foldHTTP(h, app) {
		return
	}
	r.writeU(h, app, 1, h.Time)
}

// writeU writes the U row of h, standing for count requests, the last at
// last.
func (r *Recorder) writeU(h *audit.HTTPRequest, app configtab.App, count uint64, last time.Time) {
	e := r.sp.Begin('U', h.Time)
	r.encodeU(e, h, app)
	e.Uint(min(count, 1<<32-1)).Time(last)
	r.commit()
}

// encodeU adds the fields of h's U row that come before its count.
func (r *Recorder) encodeU(e *logfile.Encoder, h *audit.HTTPRequest, app configtab.App) {
	r.endpoints(e, h.Client, h.Server)
	e.Str(app.Name).Str(h.Method).StrOrNull(h.Host).Str(h.URI)
	if h.HasResponse {
		e.Uint(uint64(h.Status))
	} else {
		e.Null()
	}
	e.StrOrNull(h.ContentType).StrOrNull(h.UserAgent).StrOrNull(h.Referer).
		Uint(uint64(max(h.RequestBodyLen, 0))).Uint(uint64(max(h.ResponseBodyLen, 0))).
		Str(app.Type)
}

// TLS writes an S row.
func (r *Recorder) TLS(t *audit.TLSHandshake) {
	app, ok := r.learnHost(t.Client, t.Server, t.SNI)
	if !ok {
		app = r.appOf(audit.TCP, t.Client, t.Server, "tls")
	}
	e := r.sp.Begin('S', t.Time)
	r.endpoints(e, t.Client, t.Server)
	e.Str(app.Name).StrOrNull(t.SNI)
	if t.Version != 0 {
		e.Str(tls.VersionString(t.Version)).Str(tls.CipherSuiteString(t.CipherSuite))
	} else {
		e.Null().Null()
	}
	e.StrOrNull(strings.Join(t.ALPN, ",")).StrOrNull(t.CertSubject).StrOrNull(t.CertIssuer)
	r.commit()
}

// DNS writes a Q row, unless the log reduction folds it into a row it
// holds.
func (r *Recorder) DNS(q *audit.DNSQuery) {
	if r.foldDNS(q) {
		return
	}
	r.writeQ(q, 1, q.Time)
}

// writeQ writes the Q row of q, standing for count queries, the last at
// last.
func (r *Recorder) writeQ(q *audit.DNSQuery, count uint64, last time.Time) {
	e := r.sp.Begin('Q', q.Time)
	r.encodeQ(e, q)
	e.Uint(min(count, 1<<32-1)).Time(last)
	r.commit()
}

// encodeQ adds the fields of q's Q row that come before its count.
func (r *Recorder) encodeQ(e *logfile.Encoder, q *audit.DNSQuery) {
	r.endpoints(e, q.Client, q.Server)
	e.Str(q.Transport.String()).Str(q.Name).Str(dns.TypeString(q.QType))
	if q.HasResponse {
		e.Str(dns.RCodeString(q.RCode))
	} else {
		e.Null()
	}
	if len(q.Answers) == 0 {
		e.Null()
	} else {
		b := r.scratch[:0]
		for i, a := range q.Answers {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(append(append(b, dns.TypeString(a.Type)...), ' '), a.Data...)
		}
		e.Raw(b)
		r.scratch = b
	}
}

// Advance writes the F and T rows of the windows that ended before now
// (packet time): sessions ending later that reach back into them add rows
// of their own, which sum with these.
// It also writes the attachment bundles of the windows that ended more
// than XGrace before now.
// It writes the U and Q rows held for folding whose time is up, which is
// at the latest when their window ends: call it before the spool's
// Advance, which publishes the windows that ended.
func (r *Recorder) Advance(now time.Time) {
	r.releaseDue(now)
	ended := func(t time.Time) bool { return !logfile.WindowStart(t).Add(logfile.WindowLength).After(now) }
	if !r.due.IsZero() && ended(r.due) {
		r.emit(ended)
	}
	r.flushX(now)
}

// pending notes that a sum for minute or window t waits to be written.
func (r *Recorder) pending(t time.Time) {
	if r.due.IsZero() || t.Before(r.due) {
		r.due = t
	}
}

// Close writes every held U and Q row, every pending F and T row and every
// attachment bundle.
func (r *Recorder) Close() {
	r.releaseDue(time.Time{})
	r.emit(func(time.Time) bool { return true })
	r.flushX(time.Time{})
}

// Restart is Close for a capture that goes on at an earlier time: every
// held U and Q row, every F and T row and every attachment bundle is
// written (so the log reduction holds nothing), and what app naming
// remembered is forgotten, since it belongs to a later time.
func (r *Recorder) Restart() {
	r.Close()
	clear(r.connApp)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
