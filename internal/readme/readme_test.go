package readme_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/readme"
	"github.com/acstore/acstore/internal/testdb"
	"github.com/acstore/acstore/internal/testenv"
)

const repo = "../.."

// How each command of the README is run. Everything not listed runs to
// its end and must exit 0.
var (
	// Not run, with the reason.
	notRun = map[*regexp.Regexp]string{
		regexp.MustCompile(`^make (demo|test)\b`): "this test is itself run by make test",
	}
	// Servers: started, left running for the commands after them, stopped
	// with SIGTERM at the end (exit 0).
	servers = []*regexp.Regexp{
		regexp.MustCompile(`^bin/datasync serve `),
		regexp.MustCompile(`^bin/console -listen `),
	}
	// Daemons (unless -once): run for a few seconds, then SIGTERM must stop
	// them cleanly.
	daemons = []*regexp.Regexp{
		regexp.MustCompile(`^bin/(loader|midtable) -data \S+ -dsn \S+( -keep)?$`),
		regexp.MustCompile(`^bin/datasync push `), // the -once form runs to its end
		regexp.MustCompile(`^bin/aclog (-i|-watch) `),
	}
)

func matches(list []*regexp.Regexp, s string) bool {
	for _, re := range list {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// TestCommands runs every command of the README's sh blocks in order, as
// written but for the places it names (the data roots, the database, the
// ports, the interface), then every SQL query of its sql blocks: each must
// succeed and find rows.
func TestCommands(t *testing.T) {
	testenv.Root(t, "aclog -i captures live")
	testenv.Tool(t, "openssl")
	branchDB, branchDSN := testdb.New(t)
	_, hoDSN := testdb.New(t)
	work := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(work, "bin")+"/",
		repo+"/aclog", repo+"/loader", repo+"/recover", repo+"/datasync", repo+"/midtable", repo+"/console").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	checkHelp(t, filepath.Join(work, "bin"))
	branch, ho, captures := filepath.Join(work, "branch"), filepath.Join(work, "ho"), filepath.Join(work, "captures")
	os.MkdirAll(captures, 0o755)
	mixed := repo + "/aclog/testdata/pcaps/mixed/tls-subjectaltname_input.pcap" // 2022-03-17
	copyFile(t, mixed, filepath.Join(work, "monday.pcap"))
	copyFile(t, repo+"/aclog/testdata/pcaps/http/cooper-grill-dvwa.pcapng", filepath.Join(work, "tuesday.pcapng"))
	copyFile(t, mixed, filepath.Join(captures, "cap-20220317-083800.pcap"))
	os.WriteFile(filepath.Join(work, "pw"), []byte("a-password-for-bob-2026\n"), 0o600)
	run(t, work, nil, `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout k.pem -out c.pem`)
	ports := map[string]int{"serve": freePort(t), "console": freePort(t), "plain": freePort(t), "metrics": freePort(t)}

	subst := func(line string) string {
		r := strings.NewReplacer(
			"/var/lib/acstore", branch, "/srv/acstore", ho, "/srv/captures", captures, "/etc/acstore", filepath.Join(work, "etc"),
			"https://hq.example:", "https://127.0.0.1:", " -i eth1 ", " -i lo ",
			":9310", fmt.Sprintf(":%d", ports["metrics"]), "127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", ports["plain"]))
		line = r.Replace(line)
		port := ports["serve"]
		if strings.HasPrefix(line, "bin/console") {
			port = ports["console"]
		}
		line = strings.ReplaceAll(line, ":8443", fmt.Sprintf(":%d", port))
		dsn := branchDSN
		if strings.Contains(line, ho) {
			dsn = hoDSN
		}
		line = strings.ReplaceAll(line, "-data ...", "-data "+branch)
		line = strings.ReplaceAll(line, "-dsn ...", "-dsn '"+dsn+"'")
		return strings.ReplaceAll(line, "'acstore:acstore@tcp(127.0.0.1:3407)/acstore'", "'"+dsn+"'")
	}

	text, err := os.ReadFile(repo + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readme.Parse(string(text))
	var running []*exec.Cmd
	outputs := map[*exec.Cmd]*bytes.Buffer{}
	defer func() {
		for _, c := range running {
			c.Process.Kill()
			c.Wait()
		}
	}()
	ran := 0
	for _, b := range blocks {
		if b.Lang != "sh" {
			continue
		}
		for _, line := range b.Lines {
			if reason := notRunReason(line); reason != "" {
				t.Logf("README line %d: not run (%s): %s", b.Line, reason, line)
				continue
			}
			cmdline := subst(line)
			ran++
			switch {
			case matches(servers, line):
				c, out := start(t, work, cmdline)
				running = append(running, c)
				outputs[c] = out
				port := ports["serve"]
				if strings.HasPrefix(line, "bin/console -listen 127.0.0.1:8080") {
					port = ports["plain"]
				} else if strings.HasPrefix(line, "bin/console") {
					port = ports["console"]
				}
				waitPort(t, port, line, out)
			case matches(daemons, line) && !strings.Contains(line, " -once"):
				c, out := start(t, work, cmdline)
				time.Sleep(3 * time.Second)
				c.Process.Signal(syscall.SIGTERM)
				if err := waitTimeout(c, 20*time.Second); err != nil {
					t.Errorf("README line %d: %s\nafter SIGTERM: %v\n%s", b.Line, line, err, out)
				}
			default:
				run(t, work, &b, cmdline)
			}
		}
	}
	for _, c := range running {
		c.Process.Signal(syscall.SIGTERM)
		if err := waitTimeout(c, 20*time.Second); err != nil {
			t.Errorf("%s: after SIGTERM: %v", strings.Join(c.Args, " "), err)
		}
		if strings.Contains(strings.Join(c.Args, " "), "datasync serve") && !strings.Contains(outputs[c].String(), "datasync server stopped") {
			t.Errorf("datasync serve logged no stopped line on SIGTERM:\n%s", outputs[c])
		}
	}
	running = nil
	if ran < 20 {
		t.Errorf("only %d README commands ran", ran)
	}

	for _, b := range blocks {
		if b.Lang != "sql" {
			continue
		}
		for _, q := range readme.Statements(b.Lines) {
			rows, err := branchDB.QueryContext(context.Background(), q)
			if err != nil {
				t.Errorf("README sql block at line %d: %s: %v", b.Line, q, err)
				continue
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if n == 0 {
				t.Errorf("README sql block at line %d: no rows: %s", b.Line, q)
			}
		}
	}
}

// checkHelp: -h of every program and subcommand explains it on standard
// output, exits 0, and lists -data and -dsn where the program has them.
func checkHelp(t *testing.T, bin string) {
	t.Helper()
	for _, c := range []struct {
		args    []string
		dataDSN bool
	}{
		{[]string{"aclog"}, false}, {[]string{"loader"}, true}, {[]string{"recover"}, true},
		{[]string{"datasync"}, false}, {[]string{"datasync", "serve"}, true}, {[]string{"datasync", "push"}, false},
		{[]string{"datasync", "status"}, false}, {[]string{"midtable"}, true}, {[]string{"midtable", "query"}, true},
		{[]string{"console"}, true}, {[]string{"console", "user", "add"}, false},
	} {
		cmd := exec.Command(filepath.Join(bin, c.args[0]), append(c.args[1:], "-h")...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		name := strings.Join(c.args, " ")
		switch {
		case err != nil:
			t.Errorf("%s -h: %v\n%s", name, err, stderr.String())
		case stdout.Len() == 0 || stderr.Len() != 0:
			t.Errorf("%s -h: %d bytes on stdout, %d on stderr; want the help on stdout only", name, stdout.Len(), stderr.Len())
		case c.dataDSN && (!strings.Contains(stdout.String(), "-data") || !strings.Contains(stdout.String(), "-dsn")):
			t.Errorf("%s -h does not list -data and -dsn:\n%s", name, stdout.String())
		}
	}
}

func notRunReason(line string) string {
	for re, why := range notRun {
		if re.MatchString(line) {
			return why
		}
	}
	return ""
}

// run runs a command line with bash in dir; it must exit 0.
func run(t *testing.T, dir string, b *readme.Block, line string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", line)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "TZ=UTC")
	out, err := cmd.CombinedOutput()
	where := "setup"
	if b != nil {
		where = fmt.Sprintf("README block at line %d", b.Line)
	}
	if err != nil {
		t.Fatalf("%s: %s\n%v\n%s", where, line, err, out)
	}
	t.Logf("%s: ok: %s", where, line)
}

func start(t *testing.T, dir, line string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "exec "+line)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "TZ=UTC")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func waitTimeout(c *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		c.Process.Kill()
		return fmt.Errorf("still running %v after SIGTERM", d)
	}
}

func waitPort(t *testing.T, port int, line string, out *bytes.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("%s: not listening on %d after 20 s\n%s", line, port, out)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
