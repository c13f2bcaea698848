// Package audit turns packets into audit events: one Session per finished TCP
// or UDP session, and HTTPRequest, DNSQuery, TLSHandshake, Mail, Credential,
// FileTransfer, Post and Chat records from the protocol parsers. It owns
// link-layer decoding, IP defragmentation, the session table and TCP
// reassembly; the parsers live in aclog/internal/proto.
//
// The Engine is single-threaded and driven by packet time: in file mode
// nothing depends on the wall clock, so the same capture always yields the
// same events.
package audit

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/dns"
	"github.com/acstore/acstore/aclog/internal/proto/form"
	"github.com/acstore/acstore/aclog/internal/proto/mail"
	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// Proto is the transport protocol (IANA protocol number).
type Proto uint8

// Transport protocols the engine tracks.
const (
	TCP Proto = 6
	UDP Proto = 17
)

func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "ip-proto-" + strconv.Itoa(int(p))
}

// EndReason says how a session ended.
type EndReason uint8

// Why sessions end.
const (
	EndFIN        EndReason = iota + 1 // both sides sent FIN
	EndRST                             // a side sent RST
	EndIdle                            // idle longer than the protocol's timeout
	EndCaptureEnd                      // still open when the capture ended (Close)
)

func (r EndReason) String() string {
	switch r {
	case EndFIN:
		return "fin"
	case EndRST:
		return "rst"
	case EndIdle:
		return "idle"
	case EndCaptureEnd:
		return "capture end"
	}
	return "unknown"
}

// Session is one finished TCP or UDP session.
//
// Byte counts are frame bytes: the original on-wire length of every frame
// (CaptureInfo.Length, link-layer header included), exactly what tshark's
// "-z conv,tcp" and "-z conv,udp" statistics count, so rows can be checked
// against tshark. The one deliberate difference: every fragment of a
// fragmented IP datagram is counted, where tshark counts only the frame that
// completed the reassembly.
type Session struct {
	Proto  Proto
	Client netip.AddrPort // sent the first packet (the SYN for TCP, when seen)
	Server netip.AddrPort
	Start  time.Time // first packet
	End    time.Time // last packet

	ClientPackets uint64 // client to server
	ClientBytes   uint64
	ServerPackets uint64 // server to client
	ServerBytes   uint64

	Reason EndReason
	// App is the application protocol recognised on the session: "http",
	// "tls", "dns", or "" when none was.
	App string
}

// HTTPRequest is one HTTP request, with its response when one was seen.
type HTTPRequest struct {
	Time   time.Time // request header complete
	Client netip.AddrPort
	Server netip.AddrPort

	Method             string
	Host               string
	URI                string // as sent, not percent-decoded
	Version            string
	UserAgent          string
	Referer            string
	RequestContentType string
	RequestBodyLen     int64 // bytes, after removing chunked framing

	HasResponse bool
	Status      int // 0 without a response
	ContentType string
	// ResponseBodyLen is the body as transferred: chunked framing removed,
	// Content-Encoding (gzip) not undone.
	ResponseBodyLen int64
	// Incomplete: a capture gap or the connection's end cut a body short.
	Incomplete bool
}

// DNSQuery is one DNS question and what its response said.
//
// A response whose query was not captured still yields a record (HasQuery
// false), built from the response's question section: the answers are the
// part worth auditing. A query without a response yields a record with
// HasResponse false once it times out.
type DNSQuery struct {
	Time      time.Time // of the query, or of the response when no query was seen
	Client    netip.AddrPort
	Server    netip.AddrPort
	Transport Proto // UDP or TCP

	ID    uint16
	Name  string // presentation form, no trailing dot
	QType uint16 // see dns.TypeString
	// QClass is 1 (IN) for ordinary DNS; mDNS sets the top bit for
	// unicast-response questions.
	QClass uint16

	HasQuery    bool
	HasResponse bool
	RCode       uint8 // valid when HasResponse; see dns.RCodeString
	Answers     []DNSAnswer
	// RTT is response time minus query time, when both were seen.
	RTT time.Duration
}

// DNSAnswer is one answer-section record.
type DNSAnswer = dns.Answer

// TLSHandshake is what the clear part of one TLS handshake showed.
type TLSHandshake struct {
	Time   time.Time // ClientHello (or first handshake data) seen
	Client netip.AddrPort
	Server netip.AddrPort

	SNI string
	// ClientVersion is the highest version offered; Version the one
	// negotiated (0 without a ServerHello). See tls.VersionString.
	ClientVersion uint16
	Version       uint16
	CipherSuite   uint16 // see tls.CipherSuiteString
	ALPN          []string
	ServerALPN    string

	// Server leaf certificate, TLS 1.2 and older only (1.3 encrypts it).
	CertSubject string
	CertIssuer  string
}

// Mail is one mail message carried by SMTP, POP3 or IMAP, parsed; or,
// with Encrypted set and no Message, the note that a session went
// encrypted after STARTTLS (what follows is not guessed at).
type Mail struct {
	Time   time.Time // the command that carried the message (MAIL FROM, RETR, FETCH, APPEND)
	Client netip.AddrPort
	Server netip.AddrPort
	TTL    uint8 // IP TTL (hop limit) of the client's packets
	// IPLen is the total length (IPv4 total length, IPv6 40 + payload
	// length) of the packet that completed the message, which is where
	// tshark shows the reassembled message; 0 when no packet did (the
	// capture ended first). Seed 000's len.
	IPLen uint32

	Proto   string // "smtp", "pop3" or "imap"
	Command string // DATA, BDAT, RETR, TOP, FETCH, APPEND, STARTTLS
	// Send: the client sent the message (SMTP, IMAP APPEND); else the
	// client received it (POP3, IMAP FETCH).
	Send bool

	Helo       string // SMTP HELO/EHLO argument
	ServerName string // host name in the server's greeting, when it has one
	User       string // login of the session, when one was seen
	EnvFrom    string // SMTP MAIL FROM address
	EnvTo      []string
	Section    string // IMAP FETCH section

	Size      int64         // bytes of the message as carried
	Cut       bool          // not all of it was kept (cap or capture gap)
	Encrypted bool          // STARTTLS: the rest of the session is encrypted
	Message   *mail.Message // nil for a STARTTLS note
}

// Credential is one plaintext login (FTP, POP3, IMAP, SMTP AUTH, HTTP
// Basic). The password is never kept: PassLen is its length.
type Credential struct {
	Time       time.Time
	Client     netip.AddrPort
	Server     netip.AddrPort
	Proto      string // "ftp", "pop3", "imap", "smtp", "http", "irc", "xmpp", "telnet"
	Mechanism  string // "USER/PASS", "PLAIN", "LOGIN", "APOP", "Basic", ...
	ServerName string // host name, when known (greeting, HTTP Host)
	User       string
	PassLen    int
	Result     textconn.Result // accepted, refused or unknown, from the server's reply
}

// FileTransfer is one file moved by FTP (RETR, STOR, STOU, APPE) or TFTP.
// Client and Server are the control connection's (TFTP: the request's).
type FileTransfer struct {
	Time    time.Time // of the command
	Client  netip.AddrPort
	Server  netip.AddrPort
	Proto   string // "ftp" or "tftp"
	Command string // RETR, STOR, ... (TFTP: RRQ, WRQ)
	Name    string
	Upload  bool  // client to server
	Size    int64 // bytes seen on the data connection
	Content []byte
	Cut     bool // Content is shorter than Size, or data was missing
	Reply   int  // final reply code; 0 when none was seen
	// NoData: no data connection was captured for the transfer.
	NoData bool
}

// Post is the body of one HTTP POST or PUT request.
type Post struct {
	Time        time.Time
	Client      netip.AddrPort
	Server      netip.AddrPort
	Method      string
	Host        string
	URI         string
	ContentType string
	Form        []form.Field // urlencoded or multipart fields, passwords masked
	Files       []form.File  // uploaded files
	BodyLen     int64
	// Body is a body that is neither a form nor an upload (JSON, XML, a
	// raw PUT), capped; nil for forms.
	Body []byte
	Cut  bool
}

// Chat is one message of a plaintext chat protocol (IRC, XMPP).
type Chat struct {
	Time     time.Time
	Client   netip.AddrPort
	Server   netip.AddrPort
	Proto    string // "irc" or "xmpp"
	Sender   string
	Receiver string
	Text     string // capped
	Cut      bool
}

// Sink consumes events. The engine calls it synchronously from Packet, Flush
// and Close.
//
// The records every session yields (Session, HTTPRequest, DNSQuery,
// TLSHandshake) and the slices they hold (Answers, ALPN) are valid only
// during the call: the engine reuses their memory for the next one. A sink
// that keeps one keeps a copy (their strings are immutable and may be kept
// as they are). The other records are freshly allocated and never touched
// by the engine after the call returns, so a sink may keep them.
type Sink interface {
	Session(*Session)
	HTTP(*HTTPRequest)
	DNS(*DNSQuery)
	TLS(*TLSHandshake)
	Mail(*Mail)
	Credential(*Credential)
	File(*FileTransfer)
	Post(*Post)
	Chat(*Chat)
}
