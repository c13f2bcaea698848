package mariadb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

func TestIsDamaged(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&mysql.MySQLError{Number: 145, Message: "Table './x/A20261121' is marked as crashed and should be repaired"}, true},
		{&mysql.MySQLError{Number: 126, Message: "Index file is crashed"}, true},
		{&mysql.MySQLError{Number: 1194, Message: "Table 'A' is marked as crashed"}, true},
		{&mysql.MySQLError{Number: 1030, Message: `Got error 127 "Record file is crashed" from storage engine MyISAM`}, true},
		{&mysql.MySQLError{Number: 1016, Message: "Can't open file: 'A20261121.MYI' (errno: 145)"}, true},
		{&mysql.MySQLError{Number: 1030, Message: `Got error 28 "No space left on device" from storage engine MyISAM`}, false},
		{&mysql.MySQLError{Number: 1146, Message: "Table 'x.A' doesn't exist"}, false},
		{fmt.Errorf("load: %w", &mysql.MySQLError{Number: 145}), true},
		{errors.New("Table is marked as crashed"), false}, // text alone decides nothing
	}
	for _, c := range cases {
		if got := mariadb.IsDamaged(c.err); got != c.want {
			t.Errorf("IsDamaged(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if !mariadb.IsUnavailable(fmt.Errorf("x: %w", mysql.ErrInvalidConn)) || mariadb.IsUnavailable(&mysql.MySQLError{Number: 145}) {
		t.Error("IsUnavailable misclassifies")
	}
}

// TestLocalInfileOff: on a server with local_infile off, Open says so
// clearly. It runs an instance of its own, since the setting is global.
func TestLocalInfileOff(t *testing.T) {
	dsn := testdb.NewInstance(t).DSN
	ctx := context.Background()
	conn, err := mariadb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec("SET GLOBAL local_infile = 0"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	_, err = mariadb.Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), "local_infile=OFF") || !strings.Contains(err.Error(), "--local-infile=1") {
		t.Errorf("Open with local_infile off: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for dsn, want := range map[string]string{
		"acstore:acstore@tcp(127.0.0.1:1)/acstore": "connect to 127.0.0.1:1",
		"acstore:acstore@tcp(127.0.0.1:1)/":        "no database name",
		"acstore@tcp(127.0.0.1:1)/bad-name":        "use letters, digits and _",
		"not a dsn":                                "dsn:",
	} {
		_, err := mariadb.Open(context.Background(), dsn)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", dsn, err, want)
		}
	}
}

// TestQuote names tables that a hand-made or hostile name would break out
// of: each statement names exactly its table, and CreateTable, whose DDL
// takes the name as it is, refuses such a name with an error.
func TestQuote(t *testing.T) {
	ctx := context.Background()
	db, _ := testdb.New(t)
	for _, name := range []string{"A20261121", "we`ird", "x`; DROP TABLE y; --", "``"} {
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+mariadb.Quote(name)+" (id INT)"); err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
	}
	tables, err := mariadb.Tables(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(tables, "|"), "A20261121|``|we`ird|x`; DROP TABLE y; --"; got != want {
		t.Errorf("tables %q, want %q", got, want)
	}
	err = mariadb.CreateTable(ctx, db, schema.LogTables()[0], "B`20261121")
	if err == nil || !strings.Contains(err.Error(), "letters, digits and _") {
		t.Errorf("CreateTable with a backtick in the name: %v, want an error", err)
	}
}
