// Package testdb gives tests a database of their own on the project's
// private MariaDB instance (started by `make db-up`; its DSN reaches the
// tests in ACSTORE_TEST_DSN). A test that needs the database skips without
// it, except under CI=true, where it fails: CI must never pass by skipping.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/testenv"
)

// DSN returns the DSN of the private instance, or skips (fails under CI).
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("ACSTORE_TEST_DSN")
	testenv.Need(t, dsn != "", "no database: ACSTORE_TEST_DSN is not set (run the tests with `make test`, which starts the private MariaDB)")
	return dsn
}

// New creates an empty database for the test, dropped when it ends, and
// returns it opened and its DSN.
func New(t testing.TB) (*sql.DB, string) {
	t.Helper()
	cfg, err := mysql.ParseDSN(DSN(t))
	if err != nil {
		t.Fatalf("ACSTORE_TEST_DSN: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	cfg.DBName = "acstore_test_" + hex.EncodeToString(b[:])
	dsn := cfg.FormatDSN()
	ctx := context.Background()
	db, err := mariadb.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() {
		db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS `"+cfg.DBName+"`")
		db.Close()
	})
	return db, dsn
}

// Count returns SELECT COUNT(*) of table.
func Count(t testing.TB, db *sql.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow("SELECT COUNT(*) FROM " + mariadb.Quote(table)).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// Instance is a MariaDB server of the test's own, for tests that stop the
// server or change its global settings. It is started like the private
// instance, by scripts/db.sh, with its own data dir and port.
type Instance struct {
	t   testing.TB
	env []string
	DSN string
}

// NewInstance starts an instance, stopped when the test ends.
func NewInstance(t testing.TB) *Instance {
	t.Helper()
	DSN(t) // the tooling of the private instance must be there
	in := &Instance{t: t, env: append(os.Environ(), "ACSTORE_VAR="+t.TempDir(),
		fmt.Sprintf("ACSTORE_DB_PORT=%d", 20000+mrand.IntN(20000)))}
	in.DSN = in.Up()
	t.Cleanup(in.Down)
	return in
}

func (in *Instance) run(cmd string) string {
	in.t.Helper()
	_, file, _, _ := runtime.Caller(0)
	c := exec.Command(filepath.Join(filepath.Dir(file), "../../scripts/db.sh"), cmd)
	c.Env = in.env
	out, err := c.Output()
	if err != nil {
		in.t.Fatalf("db.sh %s: %v", cmd, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// Up starts the server (again) and returns its DSN.
func (in *Instance) Up() string { return in.run("up") }

// Down stops the server.
func (in *Instance) Down() { in.run("down") }
