// Package testenv says what a test needs from the machine: root, a tool on
// PATH, a tmpfs mount. Without it the test skips on a developer's machine
// but fails under CI=true, because CI must never pass by skipping what it
// claims to test.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// CI reports whether the tests run under CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// Need stops the test when ok is false: Skip on a developer's machine,
// Fatal under CI=true. why says what is missing and how to get it.
func Need(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	why := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("CI=true and this test cannot run: %s", why)
	}
	t.Skip(why)
}

// Root needs the test to run as root (live capture, mounts).
func Root(t testing.TB, what string) {
	t.Helper()
	Need(t, os.Geteuid() == 0, "%s needs root (run the tests as root, as CI does)", what)
}

// Tool needs name on PATH and returns its path.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, err == nil, "%s is not on PATH (scripts/deps.sh installs it)", name)
	return p
}

// Tmpfs mounts a tmpfs of size (mount's syntax, e.g. "256k") on dir,
// unmounted when the test ends.
func Tmpfs(t testing.TB, dir, size string) {
	t.Helper()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	Need(t, err == nil, "cannot mount a %s tmpfs on %s (%v: %s): needs root", size, dir, err, out)
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}
