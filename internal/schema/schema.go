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
}

// Common columns of every log table.
var (
	colID = Column{"id", "BIGINT UNSIGNED NOT NULL", "row id, unique per gateway, table and day"}
	colGW = Column{"gw", "CHAR(8) CHARACTER SET ascii NOT NULL", "gateway id; set by the loader from the file name"}
	colTS = Column{"ts", "DATETIME(6) NOT NULL", "local time of the event"}
)

// GatewayColumn is the name of the column that is set from the file name
// rather than read from the file.
const GatewayColumn = "gw"

func str(name string, n int, doc string) Column {
	return Column{name, fmt.Sprintf("VARBINARY(%d) NULL", n), doc}
}

func blob(name, doc string) Column { return Column{name, "MEDIUMBLOB NULL", doc} }

func u64(name, doc string) Column {
	return Column{name, "BIGINT UNSIGNED NOT NULL DEFAULT 0", doc}
}

func u32(name, doc string) Column { return Column{name, "INT UNSIGNED NOT NULL DEFAULT 0", doc} }

func ip(name, doc string) Column {
	return Column{name, "VARCHAR(45) CHARACTER SET ascii NULL", doc}
}

func port(name, doc string) Column {
	return Column{name, "SMALLINT UNSIGNED NOT NULL DEFAULT 0", doc}
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

func logTable(letter byte, name, doc string, keys []string, cols ...Column) *Table {
	all := append([]Column{colID, colGW, colTS}, cols...)
	return &Table{Letter: letter, Name: name, Doc: doc, Columns: all, Keys: keys}
}

// tsKey lets reports select a time range without a full scan.
var tsKey = []string{"KEY ts (ts)"}

// LogTables lists the log tables in the order datasync ships them
// (seed 001: A-U-P-M-C-O-I-S-F-Q-T).
var logTables = []*Table{
	logTable('A', "sessions", "one row per finished TCP/UDP session", tsKey,
		append(endpoint(),
			Column{"proto", "VARCHAR(8) CHARACTER SET ascii NOT NULL", "tcp or udp"},
			str("app_type", 64, "application type"),
			str("app", 64, "application"),
			u64("bytes_up", "frame bytes client to server"),
			u64("bytes_down", "frame bytes server to client"),
			u64("pkts_up", "packets client to server"),
			u64("pkts_down", "packets server to client"),
			Column{"end_ts", "DATETIME(6) NOT NULL", "time of the last packet"},
			Column{"end_reason", "VARCHAR(16) CHARACTER SET ascii NOT NULL", "fin, rst, timeout or capture-end"},
		)...),
	logTable('U', "urls", "one row per HTTP request", tsKey,
		append(endpoint(),
			str("app", 64, "application"),
			str("method", 32, "request method"),
			str("host", 255, "Host header"),
			blob("uri", "request target as sent"),
			Column{"status", "SMALLINT UNSIGNED NULL", "response status; NULL when no response was seen"},
			str("content_type", 255, "response Content-Type"),
			str("user_agent", 1024, "User-Agent"),
			blob("referer", "Referer"),
			u64("req_body_bytes", "request body size"),
			u64("resp_body_bytes", "response body size"),
		)...),
	logTable('P', "posts", "one row per HTTP POST/PUT body", tsKey,
		append(endpoint(),
			str("host", 255, "Host header"),
			blob("uri", "request target"),
			str("content_type", 255, "request Content-Type"),
			blob("form", "form fields, urlencoded, passwords masked as ***"),
			blob("file_names", "uploaded files, one per line: sha256 in X (- when not kept), size, type, name"),
			u64("body_bytes", "body size"),
			Column{"x_ref", "CHAR(64) CHARACTER SET ascii NULL", "sha256 in the window's X bundle of the first uploaded file, or of a body that is not a form"},
		)...),
	logTable('M', "mails", "one row per mail message per protocol transfer (fields of seed 000)", tsKey,
		// Seed 000's columns, with better types; source_ip etc. come from
		// endpoint(). The SMTP envelope (env_from, env_to) is kept apart
		// from the header's From and To: they differ for Bcc, lists and
		// forwarding, and both are what an auditor asks for.
		append(endpoint(),
			Column{"proto", "VARCHAR(8) CHARACTER SET ascii NOT NULL", "smtp, pop3 or imap"},
			Column{"command", "VARCHAR(16) CHARACTER SET ascii NOT NULL", "DATA, BDAT, RETR, TOP, FETCH, APPEND, or STARTTLS for a session that went encrypted"},
			Column{"direction", "VARCHAR(8) CHARACTER SET ascii NOT NULL", "send (SMTP, IMAP APPEND) or receive (POP3, IMAP FETCH)"},
			u32("len", "message size in bytes as carried"),
			Column{"ttl", "TINYINT UNSIGNED NOT NULL DEFAULT 0", "IP TTL of the client's packets"},
			str("host_name", 255, "HELO/EHLO name, else the host name in the server's greeting"),
			str("login", 255, "account the session logged in with, when seen"),
			blob("env_from", "SMTP envelope sender (MAIL FROM)"),
			blob("env_to", "SMTP envelope recipients (every RCPT TO), comma separated"),
			blob("mail_from", "From header, names decoded to UTF-8"),
			blob("mail_to", "To header, comma separated"),
			blob("mail_cc", "Cc header"),
			str("x_mail", 255, "X-Mailer or User-Agent"),
			blob("mail_subject", "decoded subject, UTF-8"),
			Column{"mail_priority", "TINYINT UNSIGNED NULL", "X-Priority 1..5 (Importance high 1, normal 3, low 5)"},
			str("message_id", 255, "Message-ID"),
			Column{"mail_date", "DATETIME NULL", "Date header, local time"},
			blob("mail_content", "decoded text body, capped"),
			Column{"content_truncated", "BOOL NOT NULL DEFAULT 0", "the body was cut at the cap"},
			blob("file_path", "attachments, one per line: sha256 in X (- when not kept), size, type, name"),
			Column{"image_sign", "TINYINT NOT NULL DEFAULT 0", "1 if an attachment is an image"},
			Column{"parse_sign", "TINYINT NOT NULL DEFAULT 0", "0 parsed, 1 partly (cut, header only, or encrypted), 2 malformed"},
		)...),
	logTable('C', "credentials", "one row per plaintext login; the password is never stored", tsKey,
		append(endpoint(),
			Column{"proto", "VARCHAR(16) CHARACTER SET ascii NOT NULL", "ftp, pop3, imap, smtp, http, irc, xmpp, telnet"},
			Column{"mechanism", "VARCHAR(16) CHARACTER SET ascii NOT NULL", "USER/PASS, PLAIN, LOGIN, APOP, CRAM-MD5, Basic, ..."},
			str("server", 255, "server name when known"),
			str("login", 255, "user name sent"),
			u32("pass_len", "length of the password, 0 if none"),
			Column{"success", "TINYINT NULL", "1 accepted, 0 refused, NULL unknown"},
		)...),
	logTable('O', "files", "one row per file transfer (FTP, TFTP, ...)", tsKey,
		append(endpoint(),
			Column{"proto", "VARCHAR(8) CHARACTER SET ascii NOT NULL", "ftp or tftp"},
			str("command", 16, "RETR, STOR, STOU, APPE; TFTP RRQ, WRQ"),
			blob("file_name", "file name"),
			u64("size", "bytes transferred"),
			Column{"direction", "VARCHAR(8) CHARACTER SET ascii NOT NULL", "upload or download"},
			Column{"reply", "SMALLINT UNSIGNED NULL", "final reply code (226 done, 4xx/5xx failed); NULL when none was seen"},
			Column{"x_ref", "CHAR(64) CHARACTER SET ascii NULL", "sha256 of the content in the window's X bundle"},
		)...),
	logTable('I', "chats", "one row per chat message", tsKey,
		append(endpoint(),
			Column{"proto", "VARCHAR(8) CHARACTER SET ascii NOT NULL", "irc or xmpp"},
			str("sender", 255, "who"),
			str("receiver", 255, "to whom (a user or a channel)"),
			blob("message", "message text, capped"),
		)...),
	logTable('S', "tls", "one row per TLS handshake", tsKey,
		append(endpoint(),
			str("app", 64, "application"),
			str("sni", 255, "server name indication"),
			Column{"version", "VARCHAR(16) CHARACTER SET ascii NULL", "negotiated version"},
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
			Column{"proto", "VARCHAR(8) CHARACTER SET ascii NOT NULL", "udp or tcp"},
			str("query", 255, "query name"),
			Column{"qtype", "VARCHAR(16) CHARACTER SET ascii NULL", "query type"},
			Column{"rcode", "VARCHAR(16) CHARACTER SET ascii NULL", "response code; NULL without a response"},
			blob("answers", "answers, comma separated"),
		)...),
	logTable('T', "online", "online time per user per window", tsKey,
		str("user", 64, "user"),
		str("grp", 128, "group"),
		ip("ip", "address of the user"),
		Column{"first_seen", "DATETIME(6) NOT NULL", "first packet in the window"},
		Column{"last_seen", "DATETIME(6) NOT NULL", "last packet in the window"},
		u32("active_minutes", "minutes with traffic"),
		u32("online_seconds", "seconds counted as online"),
	),
}

// Config tables. They are not per day; at head office the gw column tells
// branches apart.
var configTables = []*Table{
	{Name: "users", Doc: "address or CIDR to user and group", Columns: []Column{
		colGW,
		Column{"cidr", "VARCHAR(49) CHARACTER SET ascii NOT NULL", "address or CIDR"},
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
		Column{"rule_kind", "VARCHAR(16) CHARACTER SET ascii NOT NULL", "port, host or sni"},
		str("rule", 255, "tcp/443, udp/53, *.example.com, ..."),
	}, Keys: []string{"PRIMARY KEY (gw, name, rule_kind, rule)"}},
}

// LogTables returns the log tables in shipping order (A-U-P-M-C-O-I-S-F-Q-T).
func LogTables() []*Table { return logTables }

// ConfigTables returns the config tables.
func ConfigTables() []*Table { return configTables }

// ShipOrder is the order of the log table letters in a window (seed 001).
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
		if c.Name != GatewayColumn {
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
		fmt.Fprintf(&b, "  `%s` %s,\n", c.Name, c.Type)
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
