package packaging_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/testdb"
	"github.com/acstore/acstore/internal/testenv"
)

const setup = "../scripts/setup-mariadb.sh"

// TestSetupMariaDBRefuses: each thing wrong gets exit status 1 and the
// reason, before anything is changed.
func TestSetupMariaDBRefuses(t *testing.T) {
	testenv.Tool(t, "mariadb")
	conf := filepath.Join(t.TempDir(), "60-acstore.cnf")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"small machine", []string{"--memory", "512M"}, "MariaDB would have 512 MiB of memory; acstore needs at least 1 GiB"},
		{"no server", []string{"--memory", "2G", "--password", "pw-0123456789", "--socket", "/nonexistent/mysqld.sock"}, "no MariaDB socket at /nonexistent/mysqld.sock: is the server running"},
		{"quote in password", []string{"--memory", "2G", "--password", "it's-a-secret"}, "the password must be 12 or more letters"},
		{"short password", []string{"--memory", "2G", "--password", "short"}, "the password must be 12 or more letters"},
		{"bad database name", []string{"--database", "acstore; DROP"}, "database name 'acstore; DROP'"},
		{"socket is not a socket", []string{"--memory", "2G", "--password", "pw-0123456789", "--socket", "/dev/null"}, "no MariaDB socket at /dev/null"},
		{"unknown flag", []string{"--frobnicate"}, "unknown argument '--frobnicate'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(setup, append(tc.args, "--conf-file", conf)...).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1\n%s", err, out)
			}
			if !strings.Contains(string(out), "setup-mariadb.sh: refusing: "+tc.want) {
				t.Errorf("said %q, want %q", out, tc.want)
			}
			if _, err := os.Stat(conf); err == nil {
				t.Error("a refused run wrote the config file")
			}
		})
	}
}

// TestSetupMariaDB prepares a MariaDB server of the test's own as for
// production: the printed user connects, LOAD DATA LOCAL works, the
// settings are live, the config file is one mariadbd accepts, and a second
// run changes nothing and succeeds.
func TestSetupMariaDB(t *testing.T) {
	testenv.Tool(t, "mariadb")
	in := testdb.NewInstance(t)
	conf := filepath.Join(t.TempDir(), "60-acstore.cnf")
	args := []string{"--socket", in.Socket(), "--conf-file", conf, "--memory", "1G",
		"--database", "acstore_prod", "--user", "acprod", "--password", "pw-0123456789"}
	out, err := exec.Command(setup, args...).Output()
	if err != nil {
		t.Fatalf("setup-mariadb.sh: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "acprod:pw-0123456789@unix("+in.Socket()+")/acstore_prod"; got != want {
		t.Errorf("printed DSN %q, want %q", got, want)
	}
	cnf, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"local_infile = 1", "myisam_recover_options = BACKUP,FORCE", "key_buffer_size = 268435456", "bulk_insert_buffer_size = 33554432"} {
		if !strings.Contains(string(cnf), "\n"+want+"\n") {
			t.Errorf("config file lacks %q:\n%s", want, cnf)
		}
	}
	if mariadbd, err := exec.LookPath("mariadbd"); err == nil || fileExists("/usr/sbin/mariadbd") {
		if err != nil {
			mariadbd = "/usr/sbin/mariadbd"
		}
		if out, err := exec.Command(mariadbd, "--defaults-file="+conf, "--verbose", "--help").CombinedOutput(); err != nil {
			t.Errorf("mariadbd does not accept the config file: %v\n%s", err, lastLines(string(out), 5))
		}
	}

	// The DSN loader would use, over TCP as the test reaches the server.
	root, err := mysql.ParseDSN(in.DSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "acprod", "pw-0123456789", "tcp", root.Addr, "acstore_prod"
	ctx := context.Background()
	db, err := mariadb.Open(ctx, cfg.FormatDSN())
	if err != nil {
		t.Fatalf("the new user cannot open the database: %v", err)
	}
	defer db.Close()
	if err := mariadb.CheckLocalInfile(ctx, db); err != nil {
		t.Errorf("LOAD DATA LOCAL: %v", err)
	}
	var infile, keyBuffer, bulk int64
	if err := db.QueryRow("SELECT @@global.local_infile, @@global.key_buffer_size, @@global.bulk_insert_buffer_size").Scan(&infile, &keyBuffer, &bulk); err != nil {
		t.Fatal(err)
	}
	if infile != 1 || keyBuffer != 256<<20 || bulk != 32<<20 {
		t.Errorf("live settings: local_infile %d key_buffer_size %d bulk_insert_buffer_size %d", infile, keyBuffer, bulk)
	}
	if _, err := db.Exec("CREATE TABLE t (x INT) ENGINE=MyISAM"); err != nil {
		t.Errorf("the user cannot create a table in its database: %v", err)
	}
	if _, err := db.Exec("CREATE DATABASE other_db"); err == nil {
		t.Error("the user may create other databases: grants are wider than its own database")
	}

	if out, err := exec.Command(setup, args...).CombinedOutput(); err != nil {
		t.Errorf("second run: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(cnf)))
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
