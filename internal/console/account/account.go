// Package account holds the console's local users: their roles, the
// gateways and groups an auditor may see, and their passwords hashed with
// bcrypt (golang.org/x/crypto), in the console_users table of the same
// database the logs are in.
package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/acstore/acstore/internal/logfile"
)

// Role is what a user may do.
type Role string

const (
	// Admin may do everything, manage users and read the console's own
	// audit trail.
	Admin Role = "admin"
	// Auditor may search and run reports, within its scope.
	Auditor Role = "auditor"
)

// User is one console user.
type User struct {
	Name string
	Role Role
	// Gateways and Groups limit an auditor to those gateways and groups;
	// empty means all. They do not apply to admins.
	Gateways []string
	Groups   []string
}

// IsAdmin reports whether u is an admin.
func (u *User) IsAdmin() bool { return u.Role == Admin }

// Limited reports whether u sees only part of the data.
func (u *User) Limited() bool { return !u.IsAdmin() && (len(u.Gateways) > 0 || len(u.Groups) > 0) }

// SeesGateway reports whether u may see rows of gateway gw.
func (u *User) SeesGateway(gw string) bool {
	return u.IsAdmin() || len(u.Gateways) == 0 || slices.Contains(u.Gateways, gw)
}

// SeesGroup reports whether u may see rows of group g.
func (u *User) SeesGroup(g string) bool {
	return u.IsAdmin() || len(u.Groups) == 0 || slices.Contains(u.Groups, g)
}

// Scope returns the gateways and groups u is limited to (nil: all).
func (u *User) Scope() (gateways, groups []string) {
	if u.IsAdmin() {
		return nil, nil
	}
	return u.Gateways, u.Groups
}

// Cost is the bcrypt cost of new hashes.
const Cost = 11

// MinPassword is the shortest password accepted.
const MinPassword = 10

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

const createSQL = "CREATE TABLE IF NOT EXISTS `console_users` (" +
	"`name` VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY, " +
	"`hash` VARBINARY(80) NOT NULL, " +
	"`role` VARCHAR(16) CHARACTER SET ascii NOT NULL, " +
	"`gateways` VARCHAR(1024) CHARACTER SET ascii NOT NULL DEFAULT '', " +
	"`groups` VARBINARY(4096) NOT NULL DEFAULT '', " +
	"`created` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP" +
	") ENGINE=MyISAM DEFAULT CHARSET=utf8mb4"

// Store reads and writes console_users.
type Store struct{ db *sql.DB }

// Open creates the table if needed.
func Open(ctx context.Context, db *sql.DB) (*Store, error) {
	if _, err := db.ExecContext(ctx, createSQL); err != nil {
		return nil, fmt.Errorf("console_users: %w", err)
	}
	return &Store{db: db}, nil
}

// ErrBadLogin is returned for an unknown user or a wrong password alike,
// so the answer does not tell which.
var ErrBadLogin = errors.New("wrong user name or password")

// Validate checks a user before it is stored.
func Validate(u User, password string) error {
	if !nameRE.MatchString(u.Name) {
		return fmt.Errorf("user name %q: use 1 to 64 letters, digits, _ . @ -", u.Name)
	}
	if u.Role != Admin && u.Role != Auditor {
		return fmt.Errorf("role %q: want admin or auditor", u.Role)
	}
	for _, gw := range u.Gateways {
		if !logfile.ValidGateway(gw) {
			return fmt.Errorf("gateway %q: want 8 upper-case hex digits", gw)
		}
	}
	for _, g := range u.Groups {
		if g == "" || strings.ContainsAny(g, "\n") {
			return fmt.Errorf("group %q: empty or has a line break", g)
		}
	}
	if len(password) < MinPassword || len(password) > 72 {
		return fmt.Errorf("password: %d to 72 bytes (bcrypt reads no more)", MinPassword)
	}
	return nil
}

// Put creates or replaces a user.
func (s *Store) Put(ctx context.Context, u User, password string) error {
	if err := Validate(u, password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), Cost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	_, err = s.db.ExecContext(ctx, "REPLACE INTO `console_users` (`name`, `hash`, `role`, `gateways`, `groups`) VALUES (?, ?, ?, ?, ?)",
		u.Name, hash, string(u.Role), strings.Join(u.Gateways, ","), []byte(strings.Join(u.Groups, "\n")))
	if err != nil {
		return fmt.Errorf("store user %s: %w", u.Name, err)
	}
	return nil
}

// Delete removes a user.
func (s *Store) Delete(ctx context.Context, name string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM `console_users` WHERE `name` = ?", name); err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	return nil
}

// dummyHash is compared against when the user does not exist, so an
// unknown name takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no such user, no such password"), Cost)

// Authenticate returns the user if the password is right, else ErrBadLogin.
func (s *Store) Authenticate(ctx context.Context, name, password string) (*User, error) {
	u, hash, err := s.get(ctx, name)
	if errors.Is(err, sql.ErrNoRows) {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, ErrBadLogin
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return nil, ErrBadLogin
	}
	return u, nil
}

// Get returns a user.
func (s *Store) Get(ctx context.Context, name string) (*User, error) {
	u, _, err := s.get(ctx, name)
	return u, err
}

func (s *Store) get(ctx context.Context, name string) (*User, []byte, error) {
	var u User
	var role, gws string
	var groups, hash []byte
	err := s.db.QueryRowContext(ctx, "SELECT `name`, `hash`, `role`, `gateways`, `groups` FROM `console_users` WHERE `name` = ?", name).
		Scan(&u.Name, &hash, &role, &gws, &groups)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("read user %s: %w", name, err)
	}
	u.Role = Role(role)
	u.Gateways = split(gws, ",")
	u.Groups = split(string(groups), "\n")
	return &u, hash, nil
}

// List returns every user, by name.
func (s *Store) List(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT `name`, `role`, `gateways`, `groups` FROM `console_users` ORDER BY `name`")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var role, gws string
		var groups []byte
		if err := rows.Scan(&u.Name, &role, &gws, &groups); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		u.Role, u.Gateways, u.Groups = Role(role), split(gws, ","), split(string(groups), "\n")
		out = append(out, u)
	}
	return out, rows.Err()
}

func split(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}
