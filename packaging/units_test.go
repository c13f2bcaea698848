package packaging_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/acstore/acstore/internal/testenv"
)

var units = []string{"aclog@.service", "loader.service", "midtable.service", "datasync-push.service", "datasync-serve.service", "console.service"}

// unitRoot lays out a scratch root for systemd-analyze: the host's own
// units (sysinit.target and the rest a unit depends on), kill for
// ExecReload, the programs built where the units expect them, and the
// units, with aclog@eth0.service as an instance of the template.
func unitRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	sysUnits := "/usr/lib/systemd/system"
	if _, err := os.Stat(sysUnits); err != nil {
		sysUnits = "/lib/systemd/system"
	}
	run(t, "mkdir", "-p", filepath.Join(root, "usr/lib/systemd"), filepath.Join(root, "bin"), filepath.Join(root, "usr/lib/acstore/bin"))
	run(t, "cp", "-a", sysUnits, filepath.Join(root, "usr/lib/systemd/"))
	run(t, "cp", "/bin/kill", filepath.Join(root, "bin/kill"))
	run(t, "cp", "-a", binaries(t)+"/.", filepath.Join(root, "usr/lib/acstore/bin"))
	for _, u := range units {
		run(t, "cp", filepath.Join("systemd", u), filepath.Join(root, "usr/lib/systemd/system", u))
	}
	if err := os.Symlink("aclog@.service", filepath.Join(root, "usr/lib/systemd/system/aclog@eth0.service")); err != nil {
		t.Fatal(err)
	}
	return root
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the five programs once for the package's tests.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "acstore-bin-"); buildErr != nil {
			return
		}
		args := []string{"build", "-o", binDir + "/"}
		for _, p := range programs {
			args = append(args, "github.com/acstore/acstore/"+p)
		}
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

var programs = []string{"aclog", "loader", "recover", "datasync", "midtable", "console"}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// verify runs systemd-analyze verify on the units of root; any line it
// prints (unknown key, bad value, missing command) is a failure.
func verify(t *testing.T, root string) (string, error) {
	dir := filepath.Join(root, "usr/lib/systemd/system")
	args := []string{"verify", "--root=" + root, "--man=no"}
	for _, u := range units {
		if u == "aclog@.service" {
			u = "aclog@eth0.service"
		}
		args = append(args, filepath.Join(dir, u))
	}
	out, err := exec.Command("systemd-analyze", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestUnitsVerify: systemd-analyze verify passes on every unit without a
// word, and does catch a mistake (so this test can fail).
func TestUnitsVerify(t *testing.T) {
	testenv.Tool(t, "systemd-analyze")
	root := unitRoot(t)
	if out, err := verify(t, root); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	bad := filepath.Join(root, "usr/lib/systemd/system/loader.service")
	data, _ := os.ReadFile(bad)
	os.WriteFile(bad, []byte(strings.Replace(string(data), "ProtectSystem=strict", "ProtectSystm=strict", 1)), 0o644)
	if out, _ := verify(t, root); !strings.Contains(out, "Unknown key 'ProtectSystm'") {
		t.Errorf("a misspelt key went unnoticed: %q", out)
	}
}

// unitKeys reads a unit's Key=Value lines (later ones appended).
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := make(map[string][]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		keys[k] = append(keys[k], v)
	}
	return keys
}

// TestUnitsHardening checks what the units promise: notify with a
// watchdog, restart on failure, the system user, a read-only system but
// the data root, no new privileges, no capabilities but aclog's two, and
// a config file that exists here and sets only flags the program has.
func TestUnitsHardening(t *testing.T) {
	bin := binaries(t)
	want := map[string]string{
		"Type": "notify", "Restart": "on-failure", "User": "acstore", "Group": "acstore",
		"ProtectSystem": "strict", "ReadWritePaths": "/var/lib/acstore", "NoNewPrivileges": "yes",
		"WatchdogSec": "60s", "NotifyAccess": "main",
	}
	configRE := regexp.MustCompile(`-config /etc/acstore/([a-z-]+\.yaml)`)
	for _, u := range units {
		keys := unitKeys(t, filepath.Join("systemd", u))
		for k, v := range want {
			if !slices.Equal(keys[k], []string{v}) {
				t.Errorf("%s: %s=%q, want %q", u, k, keys[k], v)
			}
		}
		caps := ""
		if u == "aclog@.service" {
			caps = "CAP_NET_RAW CAP_NET_ADMIN"
		}
		for _, k := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
			if !slices.Equal(keys[k], []string{caps}) {
				t.Errorf("%s: %s=%q, want %q", u, k, keys[k], caps)
			}
		}
		exec := strings.Join(keys["ExecStart"], " ")
		m := configRE.FindStringSubmatch(exec)
		if m == nil {
			t.Errorf("%s: ExecStart %q reads no /etc/acstore/*.yaml", u, exec)
			continue
		}
		cmd := strings.Fields(exec)
		help := []string{"-h"}
		if strings.HasSuffix(cmd[0], "/datasync") {
			help = []string{cmd[1], "-h"}
		}
		out, _ := osexec(filepath.Join(bin, filepath.Base(cmd[0])), help...)
		flags := make(map[string]bool)
		for _, f := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(out, -1) {
			flags[f[1]] = true
		}
		cfg, err := os.ReadFile(filepath.Join("etc/acstore", m[1]))
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		for _, line := range strings.Split(string(cfg), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' {
				continue
			}
			k, _, _ := strings.Cut(line, ":")
			if !flags[k] {
				t.Errorf("%s: setting %q is not a flag of %s", m[1], k, strings.Join(append(cmd[:1], help[:len(help)-1]...), " "))
			}
		}
	}
}

func osexec(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
