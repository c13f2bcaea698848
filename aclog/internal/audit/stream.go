package audit

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/ftp"
	"github.com/acstore/acstore/aclog/internal/proto/http"
	"github.com/acstore/acstore/aclog/internal/proto/tls"
)

type streamKind uint8

const (
	kindUnknown streamKind = iota
	kindHTTP
	kindTLS
	kindDNS
	kindSMTP
	kindPOP3
	kindIMAP
	kindFTP
	kindFTPData // an FTP data connection, matched to its control connection
	kindIRC
	kindXMPP
	kindTelnet
	kindOther // not a protocol we parse: data is ignored
)

// maxSniff is how many bytes of a direction are held while deciding what
// protocol a stream carries.
const maxSniff = 16

// maxDNSMessage bounds the DNS-over-TCP buffer (length prefix + message).
const maxDNSMessage = 2 + 65535

// newStream starts the reassembly of session ss's TCP connection, in a
// stream recycled from an ended session when there is one.
func (e *Engine) newStream(ss *session) *tcpStream {
	var st *tcpStream
	if n := len(e.freeStreams); n > 0 {
		st = e.freeStreams[n-1]
		e.freeStreams = e.freeStreams[:n-1]
	} else {
		st = new(tcpStream) // only here: a stream made up front escaped, recycled or not
	}
	// The HTTP parser stays with the stream: its emit func is bound to it.
	*st = tcpStream{e: e, sess: ss, client: ss.client(), server: ss.server(), http: st.http}
	return st
}

// recycle keeps st, whose session has ended, for another session, unless
// something else may still hold it: the text parsers' and FTP's event
// funcs and expectations point back to their stream.
func (e *Engine) recycle(st *tcpStream) {
	if st.text != nil || st.ftpCtl != nil || st.ftpData != nil || st.ftpDataCtl != nil || len(e.freeStreams) >= maxFree {
		return
	}
	e.freeStreams = append(e.freeStreams, st)
}

// tcpStream is one TCP connection: its reassembly state and what its
// payload is parsed as.
type tcpStream struct {
	e              *Engine
	sess           *session // until the session ends; only App is set on it
	client, server netip.AddrPort
	// swapped: the protocol showed the session's server is the client
	// (a greeting, a response seen first, an FTP data connection).
	swapped bool
	kind    streamKind
	// held is what a direction holds between segments, by index: the
	// first bytes while the protocol is not known yet, then (DNS over
	// TCP) a message cut by a segment boundary. Most streams never need
	// it, so it is allocated on first use (88 bytes less a stream).
	held  *[2][]byte
	start time.Time

	h        [2]half // reassembly, by session direction (0: from the session's client)
	waiting  bool    // in the engine's list of streams waiting behind a hole
	gapSince time.Time
	gapLinks links[tcpStream]
	finished bool

	http *http.Conn // also kept, idle, by a recycled stream of another kind
	tls  *tls.Conn
	text textParser

	ftpCtl     *ftp.Control // this is an FTP control connection
	ftpData    *ftp.Data    // this is an FTP data connection ...
	ftpDataCtl *ftp.Control // ... of this control connection

	done bool // nothing more to learn: ignore further data
}

func (s *tcpStream) link() *links[tcpStream] { return &s.gapLinks }

// seqNear reports whether two sequence numbers are within 16 MB, a window
// no real connection in an audited network exceeds.
func seqNear(a, b uint32) bool {
	d := int32(a - b)
	return d > -(1<<24) && d < 1<<24
}

// reassembled takes in-order data of session direction d.
func (s *tcpStream) reassembled(d int, b []byte) {
	if s.done {
		return
	}
	s.data((d == 0) != s.swapped, b)
}

// skipped notes a hole of n bytes in session direction d.
func (s *tcpStream) skipped(d int, n int) {
	if !s.done {
		s.gap((d == 0) != s.swapped, n)
	}
}

func (s *tcpStream) index(fromClient bool) int {
	if fromClient {
		return 0
	}
	return 1
}

func (s *tcpStream) gap(fromClient bool, n int) {
	switch s.kind {
	case kindHTTP:
		s.http.Gap(fromClient, n)
	case kindTLS:
		s.tls.Gap(fromClient)
	case kindDNS:
		// Length-prefixed framing cannot be recovered after a hole.
		s.drop(s.index(fromClient))
		s.done = true
	case kindSMTP, kindPOP3, kindIMAP, kindFTP, kindIRC, kindXMPP, kindTelnet:
		s.text.Gap(fromClient, n)
	case kindFTPData:
		s.ftpData.Gap(n)
	case kindUnknown:
		s.drop(s.index(fromClient))
	}
}

func (s *tcpStream) data(fromClient bool, b []byte) {
	if s.kind == kindUnknown && s.matchFTPData() {
		s.kind = kindFTPData
		if s.sess != nil {
			s.sess.ev.App = appFTPData
		}
	}
	if s.kind == kindUnknown {
		if s.start.IsZero() {
			s.start = s.e.now
		}
		i := s.index(fromClient)
		if s.held != nil && len(s.held[i]) > 0 {
			s.held[i] = append(s.held[i], b...)
			b = s.held[i]
		}
		kind, swap, decided := s.detect(fromClient, b)
		if !decided {
			if s.held == nil {
				s.held = new([2][]byte)
			}
			if len(s.held[i]) == 0 {
				s.held[i] = append(s.held[i], b...)
			}
			return
		}
		s.held = nil // what a direction sniffed is of no use once decided
		s.setKind(kind, swap)
		if swap {
			fromClient = !fromClient
		}
		if s.done {
			return
		}
	}
	switch s.kind {
	case kindHTTP:
		s.http.Data(fromClient, b, s.e.now)
		if s.http.Dead() {
			s.done = true
		}
	case kindTLS:
		s.tls.Data(fromClient, b)
		if s.tls.Done() {
			s.emitTLS()
			s.done = true
		}
	case kindDNS:
		s.dnsData(fromClient, b)
	case kindSMTP, kindPOP3, kindIMAP, kindFTP, kindIRC, kindXMPP, kindTelnet:
		s.text.Data(fromClient, b, s.e.now)
		if s.text.TLS() {
			// STARTTLS went through: the rest is a TLS session.
			s.closeText()
			s.kind = kindTLS
			s.tls = tls.NewConn()
			s.start = s.e.now
			s.tls.Data(fromClient, b)
		}
	case kindFTPData:
		s.ftpData.Add(b)
	}
}

// closeText ends the text parser of the stream.
func (s *tcpStream) closeText() {
	s.text.Close(s.e.now)
	s.e.stats.TextErrors += uint64(s.text.Errors())
	if s.ftpCtl != nil {
		s.ftpCtl.Close()
		s.ftpCtl = nil
	}
}

func (s *tcpStream) emitHTTP(tx *http.Transaction) {
	s.e.emitHTTP(s.client, s.server, tx)
}

func (e *Engine) emitHTTP(client, server netip.AddrPort, tx *http.Transaction) {
	if tx.Method == "" {
		return
	}
	e.stats.HTTPRecords++
	ev := &e.evHTTP
	*ev = HTTPRequest{
		Time:               tx.RequestTime,
		Client:             client,
		Server:             server,
		Method:             tx.Method,
		Host:               tx.Host,
		URI:                tx.URI,
		Version:            tx.Version,
		UserAgent:          tx.UserAgent,
		Referer:            tx.Referer,
		RequestContentType: tx.RequestContentType,
		RequestBodyLen:     tx.RequestBodyLen,
		HasResponse:        tx.HasResponse,
		Status:             tx.Status,
		ContentType:        tx.ContentType,
		ResponseBodyLen:    tx.ResponseBodyLen,
		Incomplete:         tx.Incomplete,
	}
	e.sink.HTTP(ev)
	e.httpExtras(client, server, tx)
}

func (s *tcpStream) emitTLS() {
	h := s.tls.Handshake()
	if !h.ClientHello && !h.ServerHello {
		return
	}
	e := s.e
	e.stats.TLSRecords++
	ev := &e.evTLS
	*ev = TLSHandshake{
		Time:          s.start,
		Client:        s.client,
		Server:        s.server,
		SNI:           h.SNI,
		ClientVersion: h.ClientVersion,
		Version:       h.Version,
		CipherSuite:   h.CipherSuite,
		ALPN:          h.ALPN,
		ServerALPN:    h.ServerALPN,
		CertSubject:   h.CertSubject,
		CertIssuer:    h.CertIssuer,
	}
	e.sink.TLS(ev)
}

// dnsData splits DNS-over-TCP messages on their 2-byte length prefixes.
func (s *tcpStream) dnsData(fromClient bool, b []byte) {
	i := s.index(fromClient)
	src, dst := s.client, s.server
	if !fromClient {
		src, dst = dst, src
	}
	buf := b
	if s.held != nil && len(s.held[i]) > 0 {
		s.held[i] = append(s.held[i], b...)
		buf = s.held[i]
	}
	for len(buf) >= 2 {
		n := int(binary.BigEndian.Uint16(buf))
		if len(buf) < 2+n {
			break
		}
		s.e.dnsMessage(TCP, src, dst, buf[2:2+n])
		buf = buf[2+n:]
	}
	// Keep the incomplete tail (it is at most one message).
	if len(buf) > maxDNSMessage {
		buf = nil
	}
	if len(buf) == 0 {
		s.drop(i)
		return
	}
	if s.held == nil {
		s.held = new([2][]byte)
	}
	s.held[i] = append(s.held[i][:0:0], buf...)
}

// drop forgets what direction i holds.
func (s *tcpStream) drop(i int) {
	if s.held != nil {
		s.held[i] = nil
	}
}

// finish is called once when reassembly is done with the connection.
func (s *tcpStream) finish() {
	if s.finished {
		return
	}
	s.finished = true
	switch s.kind {
	case kindHTTP:
		s.http.Close(s.e.now)
		s.e.stats.HTTPErrors += uint64(s.http.Errors())
	case kindTLS:
		if !s.done {
			s.emitTLS()
		}
		s.e.stats.TLSErrors += uint64(s.tls.Errors())
	case kindSMTP, kindPOP3, kindIMAP, kindFTP, kindIRC, kindXMPP, kindTelnet:
		s.closeText()
	case kindFTPData:
		s.ftpDataCtl.End(s.ftpData)
	}
	if s.ftpCtl != nil {
		// An FTP control connection that went TLS.
		s.ftpCtl.Close()
		s.ftpCtl = nil
	}
	s.done = true
	s.kind = kindOther
	s.sess = nil
}
