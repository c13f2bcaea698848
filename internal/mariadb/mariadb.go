// Package mariadb is acstore's access to the database: opening a DSN
// (creating its database), streaming rows with LOAD DATA LOCAL INFILE
// through the driver's reader handler, creating day tables, CHECK and
// REPAIR TABLE, advisory locks, and telling a damaged table or a lost
// server from other errors by their numbers.
package mariadb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/acstore/acstore/internal/schema"
)

// Open connects to dsn (go-sql-driver/mysql form), creating its database if
// it does not exist, and checks that the server accepts LOAD DATA LOCAL.
func Open(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("dsn: no database name (want user:pass@tcp(host:port)/dbname)")
	}
	if !validIdent(cfg.DBName) {
		return nil, fmt.Errorf("dsn: database name %q: use letters, digits and _", cfg.DBName)
	}
	cfg.Loc = time.Local
	cfg.ParseTime = true
	cfg.InterpolateParams = true
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	// Create the database on a connection that names none.
	noDB := cfg.Clone()
	noDB.DBName = ""
	if err := createDatabase(ctx, noDB, cfg.DBName); err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetConnMaxIdleTime(time.Minute)
	if err := CheckLocalInfile(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func createDatabase(ctx context.Context, cfg *mysql.Config, name string) error {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("dsn: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+name+"`"); err != nil {
		return fmt.Errorf("connect to %s: %w", cfg.Addr, err)
	}
	return nil
}

var identRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

func validIdent(s string) bool { return identRE.MatchString(s) }

// CheckLocalInfile fails clearly when the server refuses LOAD DATA LOCAL.
func CheckLocalInfile(ctx context.Context, db *sql.DB) error {
	var on int
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&on); err != nil {
		return fmt.Errorf("ask the server for local_infile: %w", err)
	}
	if on != 1 {
		return errors.New("the server has local_infile=OFF, so LOAD DATA LOCAL cannot work: " +
			"start mariadbd with --local-infile=1 or run SET GLOBAL local_infile=1")
	}
	return nil
}

// Execer is what the functions here need of a *sql.DB or *sql.Conn.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Quote returns name quoted as an identifier, a backtick in it doubled as
// MariaDB reads it, so the statement names that table whatever the name
// (one the server listed, one made from a request). A name the server
// cannot have fails there, with the name, as a missing table does.
func Quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// CreateTable creates the table t under name if it does not exist.
func CreateTable(ctx context.Context, db Execer, t *schema.Table, name string) error {
	if !validIdent(name) { // the DDL names it as it is
		return fmt.Errorf("create table %q: a table name is letters, digits and _", name)
	}
	if _, err := db.ExecContext(ctx, t.CreateSQL(name)); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	return nil
}

// EnsureTable creates the day table name of t if it does not exist, and
// upgrades it when it was created with an earlier layout of t
// (schema.Layout): its rows are copied, converted, into a new table that
// takes the old one's place with one RENAME TABLE, so a crash at any
// moment leaves the old table or the new one, never a mix, and the next
// call starts again. It reports whether it upgraded. Hold the table's
// lock (Lock) around it: a load or rebuild meanwhile would be lost.
func EnsureTable(ctx context.Context, db Execer, t *schema.Table, name string) (bool, error) {
	if err := CreateTable(ctx, db, t, name); err != nil {
		return false, err
	}
	have, err := Columns(ctx, db, name)
	if err != nil {
		return false, err
	}
	insert, sel, current, err := t.UpgradeSelect(have)
	if err != nil || current {
		return false, err
	}
	shadow, old := name+"_upgrade", name+"_pre"
	steps := []string{
		"DROP TABLE IF EXISTS " + Quote(shadow) + ", " + Quote(old),
		t.CreateSQL(shadow),
		"INSERT INTO " + Quote(shadow) + " (`" + strings.Join(insert, "`, `") + "`) SELECT " +
			strings.Join(sel, ", ") + " FROM " + Quote(name),
		"RENAME TABLE " + Quote(name) + " TO " + Quote(old) + ", " + Quote(shadow) + " TO " + Quote(name),
		"DROP TABLE " + Quote(old),
	}
	for _, q := range steps {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("upgrade %s to the current columns: %w", name, err)
		}
	}
	return true, nil
}

// Columns returns the names of the columns of table.
func Columns(ctx context.Context, db Execer, table string) ([]string, error) {
	cols, err := queryStrings(ctx, db, "SELECT COLUMN_NAME FROM information_schema.COLUMNS "+
		"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	return cols, nil
}

// Load streams r, rows in the text form of acstore's files, into table with
// LOAD DATA LOCAL INFILE ... IGNORE, setting the gw column to gw. Rows whose
// key is already there are skipped, which makes every load idempotent. It
// returns the number of rows inserted.
func Load(ctx context.Context, db Execer, table string, cols []string, gw string, r io.Reader) (int64, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	// A unique name per load: concurrent loads never read each other's rows.
	name := "acstore-" + hex.EncodeToString(b[:])
	mysql.RegisterReaderHandler(name, func() io.Reader { return r })
	defer mysql.DeregisterReaderHandler(name)

	var set string
	if gw != "" {
		if !identRE.MatchString(gw) {
			return 0, fmt.Errorf("load %s: bad gateway %q", table, gw)
		}
		set = " SET `" + schema.GatewayColumn + "` = '" + gw + "'"
	}
	q := "LOAD DATA LOCAL INFILE 'Reader::" + name + "' IGNORE INTO TABLE " + Quote(table) +
		" CHARACTER SET binary (`" + strings.Join(cols, "`, `") + "`)" + set
	res, err := db.ExecContext(ctx, q)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Damaged table errors: the MyISAM handler errors (126 index crashed, 127
// record file crashed, 130 not a table file, 134 record deleted, 144 crashed
// and last repair failed, 145 marked crashed) and the server errors 1194/1195 (crashed,
// repair failed), 1034 (bad index file) and 1035 (old key file).
var damagedNumbers = map[uint16]bool{
	126: true, 127: true, 130: true, 134: true, 144: true, 145: true,
	1034: true, 1035: true, 1194: true, 1195: true,
}

// gotErrorRE reads the handler error out of ER_GET_ERRNO (1030) and
// ER_CANT_OPEN_FILE (1016), whose message is the only place the server puts
// it; the number, not the text, then decides.
var gotErrorRE = regexp.MustCompile(`(?:Got error|errno:) (\d+)`)

// IsDamaged reports whether err says a table is damaged and needs REPAIR.
func IsDamaged(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	if damagedNumbers[me.Number] {
		return true
	}
	if me.Number == 1030 || me.Number == 1016 {
		if m := gotErrorRE.FindStringSubmatch(me.Message); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n < 1<<16 && damagedNumbers[uint16(n)]
		}
	}
	return false
}

// IsNoSuchTable reports ER_NO_SUCH_TABLE (1146).
func IsNoSuchTable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1146
}

// IsUnavailable reports whether err means the server is down or the
// connection was lost: wait and retry, do not give up on the data.
func IsUnavailable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// A file that cannot be read is not the database: its syscall.Errno
	// would pass for a net.Error below.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections
			1053, // server shutdown in progress
			1205, // lock wait timeout
			2002, 2003, 2006, 2013:
			return true
		}
	}
	return false
}

// Repair runs REPAIR TABLE and reports whether the server says it is OK.
func Repair(ctx context.Context, db Execer, table string) error {
	return adminTable(ctx, db, "REPAIR TABLE "+Quote(table)+" EXTENDED")
}

// Check runs CHECK TABLE; a nil error means the server found it OK.
func Check(ctx context.Context, db Execer, table string) error {
	return adminTable(ctx, db, "CHECK TABLE "+Quote(table))
}

// adminTable runs CHECK or REPAIR TABLE, whose verdict is in the rows it
// returns (Table, Op, Msg_type, Msg_text), not in an error.
func adminTable(ctx context.Context, db Execer, q string) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	var msgs []string
	ok := false
	for rows.Next() {
		var table, op, typ, text string
		if err := rows.Scan(&table, &op, &typ, &text); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		if typ == "status" && (text == "OK" || text == "Table is already up to date") {
			ok = true
			continue
		}
		msgs = append(msgs, typ+": "+text)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	if !ok {
		return fmt.Errorf("%s: %s", q, strings.Join(msgs, "; "))
	}
	return nil
}

// Lock takes the advisory lock that serialises loads into a table with its
// rebuild; it is held by conn until Unlock or until conn closes.
func Lock(ctx context.Context, conn *sql.Conn, table string, wait time.Duration) error {
	var got sql.NullInt64
	err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", lockName(table), int(wait.Seconds())).Scan(&got)
	if err != nil {
		return fmt.Errorf("lock %s: %w", table, err)
	}
	if got.Int64 != 1 {
		return fmt.Errorf("lock %s: still held by another process after %v", table, wait)
	}
	return nil
}

// Unlock releases the lock taken by Lock.
func Unlock(ctx context.Context, conn *sql.Conn, table string) error {
	_, err := conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", lockName(table))
	return err
}

func lockName(table string) string { return "acstore." + table }

// Tables lists the tables of the current database.
func Tables(ctx context.Context, db Execer) ([]string, error) {
	names, err := queryStrings(ctx, db, "SHOW TABLES")
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return names, nil
}

// queryStrings returns the one column of every row query gives.
func queryStrings(ctx context.Context, db Execer, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DataDir returns the server's data directory and the current database, so
// tests and the benchmark can reach the table files.
func DataDir(ctx context.Context, db *sql.DB) (dir, database string, err error) {
	err = db.QueryRowContext(ctx, "SELECT @@datadir, DATABASE()").Scan(&dir, &database)
	return dir, database, err
}
