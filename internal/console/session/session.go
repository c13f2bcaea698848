// Package session keeps the console's login sessions: a random id in a
// cookie (HttpOnly, SameSite=Strict, Secure under TLS), only its sha256 in
// the console_sessions table, so a copy of the database does not log
// anyone in. Each session has its own CSRF token that every form posts
// back. A login always starts a new session (no session fixation) and a
// logout deletes it.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Cookie is the session cookie's name.
const Cookie = "acs_session"

// Session is one logged-in session.
type Session struct {
	User    string
	CSRF    string
	Created time.Time
}

// Store keeps sessions in the database.
type Store struct {
	db      *sql.DB
	Idle    time.Duration // a session unused this long ends
	Max     time.Duration // and any session this old
	Secure  bool          // set the cookie's Secure flag (TLS)
	nowFunc func() time.Time
}

const createSQL = "CREATE TABLE IF NOT EXISTS `console_sessions` (" +
	"`id` BINARY(32) NOT NULL PRIMARY KEY, " +
	"`user` VARCHAR(64) CHARACTER SET ascii NOT NULL, " +
	"`csrf` CHAR(43) CHARACTER SET ascii NOT NULL, " +
	"`created` DATETIME NOT NULL, " +
	"`seen` DATETIME NOT NULL" +
	") ENGINE=MyISAM"

// Open creates the table if needed.
func Open(ctx context.Context, db *sql.DB, secure bool) (*Store, error) {
	if _, err := db.ExecContext(ctx, createSQL); err != nil {
		return nil, fmt.Errorf("console_sessions: %w", err)
	}
	return &Store{db: db, Idle: 30 * time.Minute, Max: 12 * time.Hour, Secure: secure, nowFunc: time.Now}, nil
}

// Token returns 32 random bytes, base64url (43 characters).
func Token() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// Start creates a session for user, replacing any the request carried,
// and sets its cookie.
func (s *Store) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, user string) (*Session, error) {
	if c, err := r.Cookie(Cookie); err == nil {
		s.db.ExecContext(ctx, "DELETE FROM `console_sessions` WHERE `id` = ?", hashID(c.Value))
	}
	id := Token()
	now := s.nowFunc()
	// Sessions that ended by time are deleted here, so the table holds
	// only live ones without a janitor.
	if _, err := s.db.ExecContext(ctx, "DELETE FROM `console_sessions` WHERE `seen` < ? OR `created` < ?", now.Add(-s.Idle), now.Add(-s.Max)); err != nil {
		return nil, fmt.Errorf("expire sessions: %w", err)
	}
	sess := &Session{User: user, CSRF: Token(), Created: now}
	_, err := s.db.ExecContext(ctx, "INSERT INTO `console_sessions` (`id`, `user`, `csrf`, `created`, `seen`) VALUES (?, ?, ?, ?, ?)",
		hashID(id), user, sess.CSRF, now, now)
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	http.SetCookie(w, s.cookie(id, 0))
	return sess, nil
}

func (s *Store) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: Cookie, Value: value, Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge}
}

// ErrNone means the request has no live session.
var ErrNone = errors.New("no session")

// Get returns the request's session, touching it.
func (s *Store) Get(ctx context.Context, r *http.Request) (*Session, error) {
	c, err := r.Cookie(Cookie)
	if err != nil || len(c.Value) != 43 {
		return nil, ErrNone
	}
	id := hashID(c.Value)
	var sess Session
	var seen time.Time
	err = s.db.QueryRowContext(ctx, "SELECT `user`, `csrf`, `created`, `seen` FROM `console_sessions` WHERE `id` = ?", id).
		Scan(&sess.User, &sess.CSRF, &sess.Created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNone
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	now := s.nowFunc()
	if now.Sub(seen) > s.Idle || now.Sub(sess.Created) > s.Max {
		s.db.ExecContext(ctx, "DELETE FROM `console_sessions` WHERE `id` = ?", id)
		return nil, ErrNone
	}
	if now.Sub(seen) > time.Minute {
		s.db.ExecContext(ctx, "UPDATE `console_sessions` SET `seen` = ? WHERE `id` = ?", now, id)
	}
	return &sess, nil
}

// End deletes the request's session and clears its cookie.
func (s *Store) End(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, s.cookie("", -1))
	c, err := r.Cookie(Cookie)
	if err != nil {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM `console_sessions` WHERE `id` = ?", hashID(c.Value)); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// EndUser deletes every session of a user (deleted or changed).
func (s *Store) EndUser(ctx context.Context, user string) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM `console_sessions` WHERE `user` = ?", user)
	return err
}

// CheckCSRF reports whether the request's token matches the session's.
func (sess *Session) CheckCSRF(r *http.Request) bool {
	tok := r.PostFormValue("csrf")
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(sess.CSRF)) == 1
}
