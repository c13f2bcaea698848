package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acstore/acstore/internal/testenv"
)

// nfpm is the pinned nfpm that `make deb` runs.
const nfpm = "github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"

// buildDeb runs nfpm on packaging/nfpm.yaml as `make deb` does, from a
// staging directory holding the freshly built binaries, and returns the
// .deb.
func buildDeb(t *testing.T) string {
	t.Helper()
	top, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	stage := t.TempDir()
	for _, l := range [][2]string{{binaries(t), "bin"}, {top + "/packaging", "packaging"}, {top + "/scripts", "scripts"}, {top + "/README.md", "README.md"}} {
		if err := os.Symlink(l[0], filepath.Join(stage, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", nfpm, "package", "--config", "packaging/nfpm.yaml", "--packager", "deb", "--target", out+"/")
	cmd.Dir = stage
	cmd.Env = append(os.Environ(), "ACSTORE_VERSION=1.2.3+test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nfpm: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("nfpm made %v", debs)
	}
	return debs[0]
}

// scratchRoot is an empty system root dpkg can install into: its own
// package database and only root in its user files.
func scratchRoot(t *testing.T) string {
	t.Helper()
	r := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"} {
		os.MkdirAll(filepath.Join(r, d), 0o755)
	}
	os.WriteFile(filepath.Join(r, "var/lib/dpkg/status"), nil, 0o644)
	for name, line := range map[string]string{"passwd": "root:x:0:0:root:/root:/bin/sh", "group": "root:x:0:", "shadow": "root:*:19000:0:99999:7:::", "gshadow": "root:*::"} {
		os.WriteFile(filepath.Join(r, "etc", name), []byte(line+"\n"), 0o640)
	}
	return r
}

// dpkgInstall installs deb into root with dpkg --root, running the
// maintainer scripts outside a chroot with DPKG_ROOT set (the scratch
// root has no shell of its own); its dependencies are the host's.
func dpkgInstall(t *testing.T, root, deb string) string {
	t.Helper()
	out, err := exec.Command("dpkg", "--root="+root, "--force-script-chrootless", "--force-depends", "--log=/dev/null", "-i", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	return string(out)
}

// TestDebInstalls builds the .deb and installs it into a scratch root:
// the programs, units, configs and setup script land where the units and
// README say, postinst creates the acstore user and a closed data root,
// aclog -h runs from there, the units verify in that root, and a
// reinstall keeps an edited config.
func TestDebInstalls(t *testing.T) {
	testenv.Root(t, "installing a .deb into a scratch root (chown, useradd --prefix)")
	testenv.Tool(t, "dpkg")
	deb := buildDeb(t)
	info, err := exec.Command("dpkg-deb", "--field", deb, "Package", "Version", "Depends", "Architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Package: acstore", "Version: 1.2.3+test", "Depends: libpcap0.8, passwd", "Architecture: amd64"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("control lacks %q:\n%s", want, info)
		}
	}
	root := scratchRoot(t)
	dpkgInstall(t, root, deb)

	mode := func(rel string) os.FileInfo {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(root, rel))
		if err != nil {
			t.Errorf("missing %s: %v", rel, err)
			return nil
		}
		return fi
	}
	for _, p := range programs {
		if fi := mode("usr/lib/acstore/bin/" + p); fi != nil && fi.Mode().Perm() != 0o755 {
			t.Errorf("%s mode %v", p, fi.Mode())
		}
		if target, err := os.Readlink(filepath.Join(root, "usr/bin/acstore-"+p)); err != nil || target != "/usr/lib/acstore/bin/"+p {
			t.Errorf("usr/bin/acstore-%s -> %q (%v)", p, target, err)
		}
	}
	for _, u := range units {
		mode("usr/lib/systemd/system/" + u)
	}
	if fi := mode("usr/sbin/acstore-setup-mariadb"); fi != nil && fi.Mode().Perm() != 0o755 {
		t.Errorf("setup-mariadb mode %v", fi.Mode())
	}
	mode("usr/share/doc/acstore/README.md")

	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	var uid string
	for _, line := range strings.Split(string(passwd), "\n") {
		if f := strings.Split(line, ":"); len(f) == 7 && f[0] == "acstore" {
			uid = f[2]
			if f[5] != "/var/lib/acstore" || f[6] != "/usr/sbin/nologin" {
				t.Errorf("acstore user: %q", line)
			}
		}
	}
	if uid == "" {
		t.Fatalf("postinst created no acstore user:\n%s", passwd)
	}
	data := mode("var/lib/acstore")
	if st := statOwner(data); data != nil && (st != uid || data.Mode().Perm() != 0o750) {
		t.Errorf("var/lib/acstore owner %s mode %v, want acstore (%s) 0750", st, data.Mode().Perm(), uid)
	}
	for _, c := range []string{"aclog", "loader", "midtable", "datasync-push", "datasync-serve", "console"} {
		if fi := mode("etc/acstore/" + c + ".yaml"); fi != nil && fi.Mode().Perm() != 0o640 {
			t.Errorf("%s.yaml mode %v, want 0640 (it holds database passwords)", c, fi.Mode().Perm())
		}
	}

	out, err := exec.Command(filepath.Join(root, "usr/lib/acstore/bin/aclog"), "-h").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "aclog: turn packets into audit rows.") {
		t.Errorf("aclog -h from the scratch root: %v\n%s", err, out)
	}

	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		sysUnits := "/usr/lib/systemd/system"
		if _, err := os.Stat(sysUnits); err != nil {
			sysUnits = "/lib/systemd/system"
		}
		run(t, "sh", "-c", `cp -an "$1"/. "$2/usr/lib/systemd/system/" && mkdir -p "$2/bin" && cp /bin/kill "$2/bin/" && ln -s aclog@.service "$2/usr/lib/systemd/system/aclog@eth0.service"`, "sh", sysUnits, root)
		if out, err := verify(t, root); err != nil || out != "" {
			t.Errorf("systemd-analyze verify in the installed root: %v\n%s", err, out)
		}
	}

	// An upgrade (here a reinstall) keeps what the operator changed.
	cfg := filepath.Join(root, "etc/acstore/loader.yaml")
	if err := os.WriteFile(cfg, []byte("data: /srv/acstore\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	dpkgInstall(t, root, deb)
	if b, _ := os.ReadFile(cfg); string(b) != "data: /srv/acstore\n" {
		t.Errorf("reinstall replaced the edited loader.yaml with %q", b)
	}
	if n := strings.Count(readString(t, filepath.Join(root, "etc/passwd")), "\nacstore:"); n != 1 {
		t.Errorf("%d acstore users after a reinstall", n)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
