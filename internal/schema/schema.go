// Package schema is the table catalogue of acstore: the letters of the log
// tables, their columns and MyISAM DDL, and the names of day tables.
//
// Every log table starts with the same three columns: id (unique per gateway,
// table and day, assigned by the file writer), gw (the gateway id, which is
// not in the files but set by the loader from the file name) and ts (the
// local time of the event). The primary key (gw, id) is what makes every load
// idempotent: LOAD DATA ... IGNORE skips a row that is already there.
//
// Free-text columns are stored as bytes (VARBINARY / BLOB): what was seen on
// the wire is kept exactly, even when it is not valid UTF-8. The parsers
// convert to UTF-8 where the protocol names a charset.
package schema

import (
	"fmt"
	"strings"
	"time"
)

// Column is one column of a table.
type Column struct {
	Name string
	Type string // SQL type, e.g. "BIGINT UNSIGNED NOT NULL"
	Doc  string
	// Default is the field text a row of an older layout gets for this
	// column (see Layout); empty means `\N`. LOAD DATA gives a missing
	// field the type's zero, not the DEFAULT clause, so it is spelt out.
	Default string
	// Alias, when set, makes this a virtual column equal to the named
	// stored column: the older tables' name for one of ours (sport for
	// src_port). It is not in the files.
	Alias string
}

// Stored reports whether the column holds data (is not an alias).
func (c Column) Stored() bool { return c.Alias == "" }

func (c Column) ddl() string {
	if c.Alias != "" {
		return fmt.Sprintf("`%s` %s AS (`%s`) VIRTUAL", c.Name, c.Type, c.Alias)
	}
	return fmt.Sprintf("`%s` %s", c.Name, c.Type)
}

// Table describes one log or config table.
type Table struct {
	Letter byte // 'A', 'U', ...; 0 for config tables
	Name   string
	Doc    string
	// Columns as stored in the database, in order. For log tables the first
	// three are id, gw and ts.
	Columns []Column
	// Keys are extra index definitions appended to the DDL.
	Keys []string
	// Past are the earlier layouts of the table, oldest first (layout.go).
	Past []Layout
}

// Common columns of every log table.
var (
	colID = Column{Name: "id", Type: "BIGINT UNSIGNED NOT NULL", Doc: "row id, unique per gateway, table and day"}
	colGW = Column{Name: "gw", Type: "CHAR(8) CHARACTER SET ascii NOT NULL", Doc: "gateway id; set by the loader from the file name"}
	colTS = Column{Name: "ts", Type: "DATETIME(6) NOT NULL", Doc: "local time of the event"}
)

// GatewayColumn is the name of the column that is set from the file name
// rather than read from the file.
const GatewayColumn = "gw"

func str(name string, n int, doc string) Column {
	return Column{Name: name, Type: fmt.Sprintf("VARBINARY(%d) NULL", n), Doc: doc}
}

func blob(name, doc string) Column { return Column{Name: name, Type: "MEDIUMBLOB NULL", Doc: doc} }

func u64(name, doc string) Column {
	return Column{Name: name, Type: "BIGINT UNSIGNED NOT NULL DEFAULT 0", Doc: doc}
}

func u32(name, doc string) Column {
	return Column{Name: name, Type: "INT UNSIGNED NOT NULL DEFAULT 0", Doc: doc}
}

func ip(name, doc string) Column {
	return Column{Name: name, Type: "VARCHAR(45) CHARACTER SET ascii NULL", Doc: doc}
}

func port(name, doc string) Column {
	return Column{Name: name, Type: "SMALLINT UNSIGNED NOT NULL DEFAULT 0", Doc: doc}
}

// endpoint columns shared by the per-connection tables.
func endpoint() []Column {
	return []Column{
		ip("src_ip", "client address"),
		port("src_port", "client port"),
		ip("dst_ip", "server address"),
		port("dst_port", "server port"),
		str("user", 64, "user of the client address (config table users), or the address"),
		str("grp", 128, "group of the user"),
	}
}

func alias(name, typ, of string) Column {
	return Column{Name: name, Type: typ, Doc: "the seed's name for " + of, Alias: of}
}

func logTable(letter byte, name, doc string, keys []string, cols ...Column) *Table {
	all := append([]Column{colID, colGW, colTS}, cols...)
	return &Table{Letter: letter, Name: name, Doc: doc, Columns: all, Keys: keys}
}

// repeatCount and lastTS are the log reduction's (日志精简) trace in the
// rows it keeps: a row stands for the repeats folded into it.
func repeatCount(what string) Column {
	return Column{Name: "repeat_count", Type: "INT UNSIGNED NOT NULL DEFAULT 1",
		Doc: what + " this row stands for: 1, or more when the log reduction folded repeats into it (SUM it to count " + what + ")", Default: "1"}
}

func lastTS(what string) Column {
	return Column{Name: "last_ts", Type: "DATETIME(6) NULL",
		Doc: "time of the last " + what + " this row stands for (ts when repeat_count is 1); NULL in rows of layout 1"}
}

// tsKey lets reports select a time range without a full scan.
var tsKey = []string{"KEY ts (ts)"}

// LogTables lists the log tables in the order datasync ships them
// (ShipOrder).
var logTables = []*Table{
	logTable('A', "sessions", "one row per finished TCP/UDP session", tsKey,
		append(endpoint(),
			Column{Name: "proto", Type: "VARCHAR(8) CHARACTER SET ascii NOT NULL", Doc: "tcp or udp"},
			str("app_type", 64, "application type"),
			str("app", 64, "application"),
			u64("bytes_up", "frame bytes client to server"),
			u64("bytes_down", "frame bytes server to client"),
			u64("pkts_up", "packets client to server"),
			u64("pkts_down", "packets server to client"),
			Column{Name: "end_ts", Type: "DATETIME(6) NOT NULL", Doc: "time of the last packet"},
			Column{Name: "end_reason", Type: "VARCHAR(16) CHARACTER SET ascii NOT NULL", Doc: "fin, rst, timeout or capture-end"},
		)...),
	logTable('U', "urls", "one row per HTTP request", tsKey,
		append(endpoint(),
			str("app", 64, "application"),
			str("method", 32, "request method"),
			str("host", 255, "Host header"),
			blob("uri", "request target as sent"),
			Column{Name: "status", Type: "SMALLINT UNSIGNED NULL", Doc: "response status; NULL when no response was seen"},
			str("content_type", 255, "response Content-Type"),
			str("user_agent", 1024, "User-Agent"),
			blob("referer", "Referer"),
			u64("req_body_bytes", "request body size"),
			u64("resp_body_bytes", "response body size"),
			// Appended (layout 2), so rows of layout 1 keep their positions.
			str("app_type", 64, "application type (seed 001's rollups group U by it)"),
			repeatCount("requests"),
			lastTS("request"),
		)...),
	logTable('P', "posts", "one row per HTTP POST/PUT body", tsKey,
		append(endpoint(),
			str("host", 255, "Host header"),
			blob("uri", "request target"),
			str("content_type", 255, "request Content-Type"),
			blob("form", "form fields, urlencoded, passwords masked as ***"),
			blob("file_names", "uploaded files, one per line: sha256 in X (- when not kept), size, type, name"),
			u64("body_bytes", "body size"),
			Column{Name: "x_ref", Type: "CHAR(64) CHARACTER SET ascii NULL", Doc: "sha256 in the window's X bundle of the first uploaded file, or of a body that is not a form"},
		)...),
	logTable('M', "mails", "one row per mail message per protocol transfer (fields of seed 000)", tsKey,
		// The columns of the mail tables M replaces keep their meanings
		// (README, "M and the mail tables it replaces"); source_ip etc.
		// come from endpoint() and those tables' names are aliases at
		// the end. The SMTP envelope (env_from,
		// env_to) is kept apart from the header's From and To: they differ
		// for Bcc, lists and forwarding, and both are what an auditor asks
		// for. acstore's own detail has columns of its own, appended
		// (layout 2) so that rows of layout 1 keep their positions.
		append(endpoint(),
			Column{Name: "proto", Type: "VARCHAR(8) CHARACTER SET ascii NOT NULL", Doc: "smtp, pop3 or imap"},
			Column{Name: "command", Type: "VARCHAR(16) CHARACTER SET ascii NOT NULL", Doc: "DATA, BDAT, RETR, TOP, FETCH, APPEND, or STARTTLS for a session that went encrypted"},
			Column{Name: "direction", Type: "VARCHAR(8) CHARACTER SET ascii NOT NULL", Doc: "send (SMTP, IMAP APPEND) or receive (POP3, IMAP FETCH)"},
			Column{Name: "len", Type: "INT UNSIGNED NULL", Doc: "seed 000: total length in bytes (tshark's ip.len) of the IP packet that completed the message; NULL when no packet did (the capture ended first)"},
			Column{Name: "ttl", Type: "TINYINT UNSIGNED NOT NULL DEFAULT 0", Doc: "IP TTL of the client's packets"},
			str("host_name", 255, "HELO/EHLO name, else the host name in the server's greeting"),
			str("login", 255, "account the session logged in with, when seen"),
			blob("env_from", "SMTP envelope sender (MAIL FROM)"),
			blob("env_to", "SMTP envelope recipients (every RCPT TO), comma separated"),
			blob("mail_from", "From header, names decoded to UTF-8"),
			blob("mail_to", "To header, comma separated"),
			blob("mail_cc", "Cc header"),
			str("x_mail", 255, "X-Mailer or User-Agent"),
			blob("mail_subject", "decoded subject, UTF-8"),
			Column{Name: "mail_priority", Type: "TINYINT UNSIGNED NULL", Doc: "X-Priority 1..5 (Importance high 1, normal 3, low 5)"},
			str("message_id", 255, "Message-ID"),
			Column{Name: "mail_date", Type: "DATETIME NULL", Doc: "Date header, local time"},
			blob("mail_content", "decoded text body, capped"),
			Column{Name: "content_truncated", Type: "BOOL NOT NULL DEFAULT 0", Doc: "the body was cut at the cap"},
			str("file_path", 1024, "seed 000: the capture file the row came from (absolute path), or live:IFACE for a live capture"),
			Column{Name: "image_sign", Type: "TINYINT NOT NULL DEFAULT 0", Doc: "seed 000: 1 if an attachment is an image, else 0"},
			Column{Name: "parse_sign", Type: "TINYINT NOT NULL DEFAULT 0", Doc: "seed 000: 1 parsed and stored, 0 processing failed (malformed, or encrypted); the detail is parse_status"},
			Column{Name: "insert_time", Type: "DATE NULL", Doc: "seed 000: the day aclog parsed and stored the row (its clock, not the packet's: ts is the packet time); NULL in rows of layout 1"},
			Column{Name: "msg_size", Type: "INT UNSIGNED NOT NULL DEFAULT 0", Doc: "message size in bytes as carried", Default: "0"},
			blob("attachments", "attachments, one per line: sha256 in X (- when not kept), size, type, name"),
			Column{Name: "parse_status", Type: "VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT ''", Doc: "ok; partial (cut at a cap or by a capture gap, or header only); malformed; encrypted (the session went TLS: nothing to parse)"},
			alias("timestamp", "DATETIME(6)", "ts"),
			alias("sport", "SMALLINT UNSIGNED", "src_port"),
			alias("dport", "SMALLINT UNSIGNED", "dst_port"),
			alias("source_ip", "VARCHAR(45) CHARACTER SET ascii", "src_ip"),
			alias("target_ip", "VARCHAR(45) CHARACTER SET ascii", "dst_ip"),
		)...),
	logTable('C', "credentials", "one row per plaintext login; the password is never stored", tsKey,
		append(endpoint(),
			Column{Name: "proto", Type: "VARCHAR(16) CHARACTER SET ascii NOT NULL", Doc: "ftp, pop3, imap, smtp, http, irc, xmpp, telnet"},
			Column{Name: "mechanism", Type: "VARCHAR(16) CHARACTER SET ascii NOT NULL", Doc: "USER/PASS, PLAIN, LOGIN, APOP, CRAM-MD5, Basic, ..."},
			str("server", 255, "server name when known"),
			str("login", 255, "user name sent"),
			u32("pass_len", "length of the password, 0 if none"),
			Column{Name: "success", Type: "TINYINT NULL", Doc: "1 accepted, 0 refused, NULL unknown"},
		)...),
	logTable('O', "files", "one row per file transfer (FTP, TFTP, ...)", tsKey,
		append(endpoint(),
			Column{Name: "proto", Type: "VARCHAR(8) CHARACTER SET ascii NOT NULL", Doc: "ftp or tftp"},
			str("command", 16, "RETR, STOR, STOU, APPE; TFTP RRQ, WRQ"),
			blob("file_name", "file name"),
			u64("size", "bytes transferred"),
			Column{Name: "direction", Type: "VARCHAR(8) CHARACTER SET ascii NOT NULL", Doc: "upload or download"},
			Column{Name: "reply", Type: "SMALLINT UNSIGNED NULL", Doc: "final reply code (226 done, 4xx/5xx failed); NULL when none was seen"},
			Column{Name: "x_ref", Type: "CHAR(64) CHARACTER SET ascii NULL", Doc: "sha256 of the content in the window's X bundle"},
		)...),
	logTable('I', "chats", "one row per chat message", tsKey,
		append(endpoint(),
			Column{Name: "proto", Type: "VARCHAR(8) CHARACTER SET ascii NOT NULL", Doc: "irc or xmpp"},
			str("sender", 255, "who"),
			str("receiver", 255, "to whom (a user or a channel)"),
			blob("message", "message text, capped"),
		)...),
	logTable('S', "tls", "one row per TLS handshake", tsKey,
		append(endpoint(),
			str("app", 64, "application"),
			str("sni", 255, "server name indication"),
			Column{Name: "version", Type: "VARCHAR(16) CHARACTER SET ascii NULL", Doc: "negotiated version"},
			str("cipher", 64, "negotiated cipher suite"),
			str("alpn", 64, "offered ALPN protocols"),
			blob("cert_subject", "server certificate subject"),
			blob("cert_issuer", "server certificate issuer"),
		)...),
	logTable('F', "flows", "traffic per user and app per minute", tsKey,
		str("user", 64, "user"),
		str("grp", 128, "group"),
		ip("ip", "address of the user"),
		str("app_type", 64, "application type"),
		str("app", 64, "application"),
		u64("bytes_up", "bytes sent"),
		u64("bytes_down", "bytes received"),
		u64("packets", "packets both ways"),
		u32("sessions", "sessions started"),
	),
	logTable('Q', "dns", "one row per DNS query", tsKey,
		append(endpoint(),
			Column{Name: "proto", Type: "VARCHAR(8) CHARACTER SET ascii NOT NULL", Doc: "udp or tcp"},
			str("query", 255, "query name"),
			Column{Name: "qtype", Type: "VARCHAR(16) CHARACTER SET ascii NULL", Doc: "query type"},
			Column{Name: "rcode", Type: "VARCHAR(16) CHARACTER SET ascii NULL", Doc: "response code; NULL without a response"},
			blob("answers", "answers, comma separated"),
			repeatCount("queries"),
			lastTS("query"),
		)...),
	logTable('T', "online", "online time per user per window", tsKey,
		str("user", 64, "user"),
		str("grp", 128, "group"),
		ip("ip", "address of the user"),
		Column{Name: "first_seen", Type: "DATETIME(6) NOT NULL", Doc: "first packet in the window"},
		Column{Name: "last_seen", Type: "DATETIME(6) NOT NULL", Doc: "last packet in the window"},
		u32("active_minutes", "minutes with traffic"),
		u32("online_seconds", "seconds counted as online"),
	),
}

// Config tables. They are not per day; at head office the gw column tells
// branches apart.
var configTables = []*Table{
	{Name: "users", Doc: "address or CIDR to user and group", Columns: []Column{
		colGW,
		Column{Name: "cidr", Type: "VARCHAR(49) CHARACTER SET ascii NOT NULL", Doc: "address or CIDR"},
		str("user", 64, "user name"),
		str("grp", 128, "group path"),
	}, Keys: []string{"PRIMARY KEY (gw, cidr)"}},
	{Name: "groups", Doc: "group tree", Columns: []Column{
		colGW,
		str("path", 128, "group path, parent/child"),
		str("parent", 128, "parent path, empty for the root"),
	}, Keys: []string{"PRIMARY KEY (gw, path)"}},
	{Name: "apps", Doc: "applications and their match rules", Columns: []Column{
		colGW,
		str("name", 64, "application"),
		str("type", 64, "application type"),
		Column{Name: "rule_kind", Type: "VARCHAR(16) CHARACTER SET ascii NOT NULL", Doc: "port, host or sni"},
		str("rule", 255, "tcp/443, udp/53, *.example.com, ..."),
	}, Keys: []string{"PRIMARY KEY (gw, name, rule_kind, rule)"}},
}

// LogTables returns the log tables in shipping order (A-U-P-M-C-O-I-S-F-Q-T).
func LogTables() []*Table { return logTables }

// ConfigTables returns the config tables.
func ConfigTables() []*Table { return configTables }

// ShipOrder is the order of the log table letters in a window: the fixed
// order datasync ships a window's files in, sessions (A) first.
const ShipOrder = "AUPMCOISFQT"

// Attachments is the letter of a window's attachment bundle; it is not a table.
const Attachments = 'X'

// ByLetter returns the log table with that letter.
func ByLetter(letter byte) (*Table, bool) {
	for _, t := range logTables {
		if t.Letter == letter {
			return t, true
		}
	}
	return nil, false
}

// FileColumns are the columns in the order a row of a file holds them: all
// but gw.
func (t *Table) FileColumns() []string {
	cols := make([]string, 0, len(t.Columns))
	for _, c := range t.Columns {
		if c.Name != GatewayColumn && c.Stored() {
			cols = append(cols, c.Name)
		}
	}
	return cols
}

// FieldCount is the number of fields of a row in a file.
func (t *Table) FieldCount() int { return len(t.FileColumns()) }

// CreateSQL returns the CREATE TABLE IF NOT EXISTS statement for the table
// under the given name.
func (t *Table) CreateSQL(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS `%s` (\n", name)
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "  %s,\n", c.ddl())
	}
	keys := t.Keys
	if t.Letter != 0 {
		keys = append([]string{"PRIMARY KEY (gw, id)"}, keys...)
	}
	b.WriteString("  " + strings.Join(keys, ",\n  "))
	b.WriteString("\n) ENGINE=MyISAM DEFAULT CHARSET=utf8mb4")
	return b.String()
}

// DayLayout is the layout of the day in table and file names.
const DayLayout = "20060102"

// ParseDay parses a day as flags, table and file names give it
// (YYYYMMDD: eight digits, a real date), at midnight local time.
func ParseDay(day string) (time.Time, error) {
	if len(day) != len(DayLayout) || strings.Trim(day, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("day %q: want YYYYMMDD", day)
	}
	t, err := time.ParseInLocation(DayLayout, day, time.Local)
	if err != nil {
		return time.Time{}, fmt.Errorf("day %q: %w", day, err)
	}
	return t, nil
}

// DayTable returns the name of the day table of letter for day, e.g. A20261121.
func DayTable(letter byte, day time.Time) string {
	return string(letter) + day.Format(DayLayout)
}

// ParseDayTable splits a day table name into its table and day. The day is
// returned at midnight in loc.
func ParseDayTable(name string, loc *time.Location) (*Table, time.Time, error) {
	if len(name) != 9 {
		return nil, time.Time{}, fmt.Errorf("%q is not a day table name", name)
	}
	t, ok := ByLetter(name[0])
	if !ok {
		return nil, time.Time{}, fmt.Errorf("%q: unknown table letter %q", name, name[0])
	}
	day, err := time.ParseInLocation(DayLayout, name[1:], loc)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%q is not a day table name: %w", name, err)
	}
	return t, day, nil
}
