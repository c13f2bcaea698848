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
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/acstore/acstore/internal/mariadb"
)

// DSN returns the DSN of the private instance, or skips (fails under CI).
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("ACSTORE_TEST_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("ACSTORE_TEST_DSN is not set under CI=true: run the tests with `make test`, which starts the private MariaDB")
		}
		t.Skip("no database: set ACSTORE_TEST_DSN or run `make test`")
	}
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
