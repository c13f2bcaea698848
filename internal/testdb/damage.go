package testdb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/acstore/acstore/internal/mariadb"
)

// Damage makes the server close table, then calls how with the path of
// its file with extension ext (.MYI, .MYD): a crash's damage, made on
// purpose.
func Damage(t testing.TB, db *sql.DB, table, ext string, how func(path string)) {
	t.Helper()
	dir, database, err := mariadb.DataDir(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("FLUSH TABLES " + mariadb.Quote(table)); err != nil {
		t.Fatal(err)
	}
	how(filepath.Join(dir, database, table+ext))
}

// Overwrite writes data at offset off of the file at path.
func Overwrite(t testing.TB, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}
