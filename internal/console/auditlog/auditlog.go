// Package auditlog is the console's record of who looked at what: every
// search, report, row or mail opened, download, login and refused attempt
// goes into the console_audit table with the user, the time, the client
// address, the action, the filter as given and the outcome. Only admins
// can read it: an audit system audits its auditors.
package auditlog

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"
)

const createSQL = "CREATE TABLE IF NOT EXISTS `console_audit` (" +
	"`seq` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, " +
	"`ts` DATETIME(6) NOT NULL, " +
	"`user` VARBINARY(64) NOT NULL, " +
	"`addr` VARCHAR(64) CHARACTER SET ascii NOT NULL, " +
	"`action` VARCHAR(32) CHARACTER SET ascii NOT NULL, " +
	"`status` SMALLINT UNSIGNED NOT NULL, " +
	"`filter` BLOB NOT NULL, " +
	"KEY `ts` (`ts`)" +
	") ENGINE=MyISAM DEFAULT CHARSET=utf8mb4"

// Entry is one recorded action.
type Entry struct {
	Seq    uint64
	TS     time.Time
	User   string // "" before login
	Addr   string
	Action string // login, search, row, report, csv, mail, attachment, denied, ...
	Status int    // the HTTP status answered
	Filter string // the query as given, url-encoded
}

// Log writes and reads console_audit.
type Log struct{ db *sql.DB }

// Open creates the table if needed.
func Open(ctx context.Context, db *sql.DB) (*Log, error) {
	if _, err := db.ExecContext(ctx, createSQL); err != nil {
		return nil, fmt.Errorf("console_audit: %w", err)
	}
	return &Log{db: db}, nil
}

// maxFilter bounds what one entry keeps of a hostile, huge query.
const maxFilter = 8192

// Record writes an entry. The filter is kept as given (bounded), so an
// injection attempt is on record exactly as it was sent.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.TS.IsZero() {
		e.TS = time.Now()
	}
	if len(e.Filter) > maxFilter {
		e.Filter = e.Filter[:maxFilter]
	}
	if len(e.User) > 64 {
		e.User = e.User[:64]
	}
	_, err := l.db.ExecContext(ctx, "INSERT INTO `console_audit` (`ts`, `user`, `addr`, `action`, `status`, `filter`) VALUES (?, ?, ?, ?, ?, ?)",
		e.TS, []byte(e.User), e.Addr, e.Action, e.Status, []byte(e.Filter))
	if err != nil {
		return fmt.Errorf("record %s by %s: %w", e.Action, e.User, err)
	}
	return nil
}

// Query selects entries, newest first.
type Query struct {
	User   string
	Action string
	Limit  int
	Before uint64 // seq; 0 for the newest
}

// List returns entries, newest first.
func (l *Log) List(ctx context.Context, q Query) ([]Entry, error) {
	s := "SELECT `seq`, `ts`, `user`, `addr`, `action`, `status`, `filter` FROM `console_audit` WHERE 1=1"
	var args []any
	if q.User != "" {
		s += " AND `user` = ?"
		args = append(args, []byte(q.User))
	}
	if q.Action != "" {
		s += " AND `action` = ?"
		args = append(args, q.Action)
	}
	if q.Before > 0 {
		s += " AND `seq` < ?"
		args = append(args, q.Before)
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	s += fmt.Sprintf(" ORDER BY `seq` DESC LIMIT %d", q.Limit)
	rows, err := l.db.QueryContext(ctx, s, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var user, filter []byte
		if err := rows.Scan(&e.Seq, &e.TS, &user, &e.Addr, &e.Action, &e.Status, &filter); err != nil {
			return nil, fmt.Errorf("read audit: %w", err)
		}
		e.User, e.Filter = string(user), string(filter)
		out = append(out, e)
	}
	return out, rows.Err()
}

// FilterOf returns the form of a request as it is recorded.
func FilterOf(v url.Values) string { return v.Encode() }
