package audit

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/ftp"
	"github.com/acstore/acstore/aclog/internal/proto/tftp"
	"github.com/acstore/acstore/internal/bytesize"
)

// Config tunes the engine. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// TCPIdleTimeout ends a TCP session with no packets for this long.
	TCPIdleTimeout time.Duration `yaml:"tcp_idle_timeout"`
	// UDPIdleTimeout ends a UDP session with no packets for this long.
	UDPIdleTimeout time.Duration `yaml:"udp_idle_timeout"`
	// TCPClosedLinger keeps a TCP session that saw FIN from both sides or
	// RST this long, so the last ACKs, retransmissions and late resets are
	// still counted in it, unless a new SYN reuses its ports first; the
	// session keeps its end reason (fin, rst). The default is 5 s, Zeek's
	// tcp_close_delay: the last ACK and a retransmitted FIN come within a
	// few round trips, and on a gateway most sessions are short, so a
	// lingering table of closed sessions would cost more than the rare
	// segment that arrives later (it starts an "idle" session of its own).
	TCPClosedLinger time.Duration `yaml:"tcp_closed_linger"`
	// DNSTimeout is how long a query waits for its response.
	DNSTimeout time.Duration `yaml:"dns_timeout"`
	// GapWait is how long reassembly waits for a missing TCP segment before
	// skipping it (and counting a gap).
	GapWait time.Duration `yaml:"gap_wait"`

	// Reassembly memory caps, in pages of about 1.9 KB (gopacket's page
	// size): out-of-order data buffered per connection and in total. When a
	// cap is hit the oldest buffered data is flushed past the hole.
	MaxBufferedPagesPerConn int `yaml:"max_buffered_pages_per_conn"`
	MaxBufferedPagesTotal   int `yaml:"max_buffered_pages_total"`
	// MaxSessions bounds the session table; past it, new sessions are not
	// tracked (and counted in Stats.SessionsDropped) until old ones expire.
	MaxSessions int `yaml:"max_sessions"`
	// MaxFragments bounds IP datagrams waiting for missing fragments.
	MaxFragments int `yaml:"max_fragments"`

	// SweepInterval is how often, in packet time, idle state is expired.
	SweepInterval time.Duration `yaml:"sweep_interval"`

	// MaxMessageBytes bounds the bytes of one mail message held for
	// parsing (SMTP DATA/BDAT, POP3 RETR, IMAP FETCH/APPEND); a longer
	// message is parsed from its first MaxMessageBytes and marked cut.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxFileBytes bounds the content of one FTP transfer or HTTP request
	// body held; the size is still counted.
	MaxFileBytes int `yaml:"max_file_bytes"`
	// MailBodyBytes caps the decoded text body kept of a mail;
	// MailAttachmentBytes the decoded content kept of one attachment.
	MailBodyBytes       int `yaml:"mail_body_bytes"`
	MailAttachmentBytes int `yaml:"mail_attachment_bytes"`
	// ChatBytes caps the text kept of one chat message.
	ChatBytes int `yaml:"chat_bytes"`
}

// DefaultConfig returns the defaults: TCP idle 5 min, UDP idle 60 s.
func DefaultConfig() Config {
	return Config{
		TCPIdleTimeout:          5 * time.Minute,
		UDPIdleTimeout:          60 * time.Second,
		TCPClosedLinger:         5 * time.Second,
		DNSTimeout:              30 * time.Second,
		GapWait:                 10 * time.Second,
		MaxBufferedPagesPerConn: 256,   // ~480 KB
		MaxBufferedPagesTotal:   65536, // ~125 MB
		MaxSessions:             1 << 20,
		MaxFragments:            4096,
		SweepInterval:           time.Second,
		MaxMessageBytes:         16 << 20,
		MaxFileBytes:            16 << 20,
		MailBodyBytes:           64 << 10,
		MailAttachmentBytes:     10 << 20,
		ChatBytes:               4 << 10,
	}
}

// RegisterFlags adds the engine's flags to fs with prefix (e.g. "audit.").
func (c *Config) RegisterFlags(fs *flag.FlagSet, prefix string) {
	fs.DurationVar(&c.TCPIdleTimeout, prefix+"tcp-idle-timeout", c.TCPIdleTimeout, "end a TCP session idle this long")
	fs.DurationVar(&c.UDPIdleTimeout, prefix+"udp-idle-timeout", c.UDPIdleTimeout, "end a UDP session idle this long")
	fs.DurationVar(&c.TCPClosedLinger, prefix+"tcp-closed-linger", c.TCPClosedLinger, "keep a closed TCP session this long for trailing packets")
	fs.DurationVar(&c.DNSTimeout, prefix+"dns-timeout", c.DNSTimeout, "how long a DNS query waits for its response")
	fs.DurationVar(&c.GapWait, prefix+"gap-wait", c.GapWait, "how long TCP reassembly waits for a missing segment")
	fs.IntVar(&c.MaxBufferedPagesPerConn, prefix+"max-pages-per-conn", c.MaxBufferedPagesPerConn, "out-of-order TCP pages (1.9 KB) buffered per connection")
	fs.IntVar(&c.MaxBufferedPagesTotal, prefix+"max-pages-total", c.MaxBufferedPagesTotal, "out-of-order TCP pages (1.9 KB) buffered in total")
	fs.IntVar(&c.MaxSessions, prefix+"max-sessions", c.MaxSessions, "sessions tracked at once")
	fs.IntVar(&c.MaxFragments, prefix+"max-fragments", c.MaxFragments, "IP datagrams awaiting fragments at once")
	bytesize.IntVar(fs, &c.MaxMessageBytes, prefix+"max-message-bytes", c.MaxMessageBytes, "bytes of one mail message held for parsing")
	bytesize.IntVar(fs, &c.MaxFileBytes, prefix+"max-file-bytes", c.MaxFileBytes, "bytes of one FTP transfer or HTTP request body held")
	bytesize.IntVar(fs, &c.MailBodyBytes, prefix+"mail-body-bytes", c.MailBodyBytes, "decoded text body kept of one mail (mail_content)")
	bytesize.IntVar(fs, &c.MailAttachmentBytes, prefix+"mail-attachment-bytes", c.MailAttachmentBytes, "decoded content kept of one mail attachment")
}

// LongestTimeout is the longest any open state waits for a packet: after
// a pause in packet time longer than this, nothing open before it could
// still continue.
func (c *Config) LongestTimeout() time.Duration {
	return max(c.TCPIdleTimeout, c.UDPIdleTimeout, c.TCPClosedLinger, c.DNSTimeout, c.GapWait,
		fragmentTimeout, ftp.ExpectTimeout, tftp.IdleTimeout)
}

// RowDelay is how long after its packets a row may be written: a session
// ends (and its A row, stamped with its start, is written) a timeout after
// its last packet. Windows stay open this long past their end so that
// short sessions' rows do not reopen published sync_files.
func (c *Config) RowDelay() time.Duration {
	return max(c.UDPIdleTimeout, c.TCPClosedLinger, c.DNSTimeout, c.GapWait) + c.SweepInterval + 10*time.Second
}

// Memory the engines of a process are planned for: what one open session
// may cost, the state that does not grow with sessions (row buffers, the
// capture reader, the runtime), and the reassembly caps on top.
const (
	sessionBudget = 2 << 10
	baseBudget    = 128 << 20
)

// MemoryLimit is the heap a process running engines with c (whatever the
// number of workers: they share MaxSessions) is planned to stay under:
// 2 KiB per session the table may hold, the reassembly page cap, and
// 128 MiB (2.3 GiB by default). aclog sets it as the Go runtime's soft
// memory limit unless GOMEMLIMIT is set. Without one the collector lets
// the heap grow to twice what is live (GOGC=100): ~2.9 KB of RSS per open
// session with a million open. With it the collector runs more often only
// as the heap nears the limit: 1.9 KB per open session at a million with
// GOMEMLIMIT=1900MiB, and that run took no more CPU. The limit is soft:
// when more is live than planned the process keeps running, with the
// collector taking up to half the CPU.
func (c *Config) MemoryLimit() int64 {
	return int64(c.MaxSessions)*sessionBudget + int64(c.MaxBufferedPagesTotal)*pageBytes + baseBudget
}

// Validate reports a config the engine cannot run with.
func (c *Config) Validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("audit: %s must be positive, got %v", name, d))
		}
	}
	positive("tcp idle timeout", c.TCPIdleTimeout)
	positive("udp idle timeout", c.UDPIdleTimeout)
	positive("tcp closed linger", c.TCPClosedLinger)
	positive("dns timeout", c.DNSTimeout)
	positive("gap wait", c.GapWait)
	positive("sweep interval", c.SweepInterval)
	if c.MaxBufferedPagesPerConn <= 0 || c.MaxBufferedPagesTotal <= 0 {
		errs = append(errs, errors.New("audit: reassembly page caps must be positive: without them memory is unbounded"))
	}
	if c.MaxBufferedPagesPerConn > c.MaxBufferedPagesTotal {
		errs = append(errs, fmt.Errorf("audit: pages per connection (%d) exceed the total (%d)", c.MaxBufferedPagesPerConn, c.MaxBufferedPagesTotal))
	}
	if c.MaxMessageBytes < 0 || c.MaxFileBytes < 0 || c.MailBodyBytes < 0 || c.MailAttachmentBytes < 0 || c.ChatBytes < 0 {
		errs = append(errs, errors.New("audit: message, file, body, attachment and chat caps must not be negative"))
	}
	if c.MaxSessions <= 0 || c.MaxFragments <= 0 {
		errs = append(errs, errors.New("audit: max sessions and max fragments must be positive"))
	}
	return errors.Join(errs...)
}
