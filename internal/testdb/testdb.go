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
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/shard"
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
	dir string // ACSTORE_VAR of the instance
	DSN string
}

// NewInstance starts an instance, stopped when the test ends.
func NewInstance(t testing.TB) *Instance {
	t.Helper()
	DSN(t) // the tooling of the private instance must be there
	dir := t.TempDir()
	in := &Instance{t: t, dir: dir, env: append(os.Environ(), "ACSTORE_VAR="+dir,
		fmt.Sprintf("ACSTORE_DB_PORT=%d", reservePort(t)))}
	in.DSN = in.Up()
	t.Cleanup(in.Down)
	return in
}

func (in *Instance) run(cmd string) string {
	in.t.Helper()
	_, file, _, _ := runtime.Caller(0)
	c := exec.Command(filepath.Join(filepath.Dir(file), "../../scripts/db.sh"), cmd)
	c.Env = in.env
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		in.t.Fatalf("db.sh %s: %v\n%s", cmd, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// Socket is the server's unix socket, where its root user logs in.
func (in *Instance) Socket() string { return filepath.Join(in.dir, "mariadb", "mysqld.sock") }

// Up starts the server (again) and returns its DSN.
func (in *Instance) Up() string { return in.run("up") }

// Down stops the server.
func (in *Instance) Down() { in.run("down") }

// Pause freezes the server (SIGSTOP), as a hung host does: connections
// stay open and the kernel still accepts new ones, but nothing answers.
// Resume (SIGCONT) lets it go on where it stopped.
func (in *Instance) Pause() { in.signal(syscall.SIGSTOP) }

// Resume ends a Pause.
func (in *Instance) Resume() { in.signal(syscall.SIGCONT) }

func (in *Instance) signal(sig syscall.Signal) {
	in.t.Helper()
	pid := in.pid()
	if err := syscall.Kill(pid, sig); err != nil {
		in.t.Fatalf("signal %v to mariadbd %d: %v", sig, pid, err)
	}
}

func (in *Instance) pid() int {
	in.t.Helper()
	b, err := os.ReadFile(filepath.Join(in.dir, "mariadb", "mysqld.pid"))
	if err != nil {
		in.t.Fatalf("mariadbd pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		in.t.Fatalf("mariadbd pid file: %v", err)
	}
	return pid
}

// Kill crashes the server: SIGKILL, as a power loss or the OOM killer
// would end it, leaving open MyISAM tables unclosed. It returns when the
// process is gone; Up starts it again.
func (in *Instance) Kill() {
	in.t.Helper()
	pid := in.pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		in.t.Fatalf("kill -9 mariadbd %d: %v", pid, err)
	}
	for deadline := time.Now().Add(30 * time.Second); alive(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			in.t.Fatalf("mariadbd %d still there 30 s after SIGKILL", pid)
		}
	}
}

// alive reports whether any thread of pid runs. The main thread of a
// killed mariadbd turns zombie before its other threads are gone, and its
// sockets close only with the last of them.
func alive(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue // gone meanwhile
		}
		// "tid (comm) S ...": the state follows the last ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i < 0 || i+2 >= len(s) || s[i+2] != 'Z' {
			return true
		}
	}
	return false
}

// Shards are private instances for a head office past one server: N shards
// and, when asked, a Spider front, started one by one, stopped when the
// test ends. Map assigns gateways to the shards evenly by id (in force
// from 20000101), as scripts/shards.sh does.
type Shards struct {
	Shards []*Instance
	Front  *Instance // nil unless asked for
	Map    *shard.Map
}

// NewShards starts n shards, and a front with the Spider engine if front.
func NewShards(t testing.TB, n int, front bool) *Shards {
	t.Helper()
	DSN(t)
	s := &Shards{Shards: make([]*Instance, n)}
	all := n
	if front {
		all++
	}
	ins := make([]*Instance, all)
	for i := range ins {
		dir := t.TempDir()
		ins[i] = &Instance{t: t, dir: dir, env: append(os.Environ(), "ACSTORE_VAR="+dir,
			fmt.Sprintf("ACSTORE_DB_PORT=%d", reservePort(t)))}
		if front && i == n {
			ins[i].env = append(ins[i].env, "ACSTORE_DB_SPIDER=1")
		}
	}
	// One after the other: mariadb-install-db runs started together have
	// been seen to trip over each other's temporary tables.
	for _, in := range ins {
		in.DSN = in.Up()
		t.Cleanup(in.Down)
	}
	m := &shard.Map{Shards: map[string]string{}, Default: "s0"}
	v := shard.Version{From: "20000101"}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s%d", i)
		m.Shards[name] = ins[i].DSN
		r := shard.Range{Shard: name}
		if i < n-1 {
			r.Below = fmt.Sprintf("%08X", uint64(i+1)*0x100000000/uint64(n))
		}
		v.Ranges = append(v.Ranges, r)
		s.Shards[i] = ins[i]
	}
	m.Versions = []shard.Version{v}
	if front {
		s.Front = ins[n]
		m.Front = s.Front.DSN
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	s.Map = m
	return s
}
