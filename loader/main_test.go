package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/rootlock"
	"github.com/acstore/acstore/internal/testdb"
)

// TestSecondLoaderExits runs the real loader binary twice on one data
// root: the second exits with status 1 and an error naming the first one's
// pid; the first keeps running and stops cleanly on SIGTERM.
func TestSecondLoaderExits(t *testing.T) {
	_, dsn := testdb.New(t)
	bin := filepath.Join(t.TempDir(), "loader")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root := t.TempDir()
	first := exec.Command(bin, "-data", root, "-dsn", dsn, "-interval", "100ms", "-stats-interval", "0")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	want := fmt.Sprintf("pid %d", first.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(rootlock.Path(root, "loader"))
		if strings.TrimSpace(string(data)) == fmt.Sprint(first.Process.Pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first loader did not take the lock: %q", data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := exec.Command(bin, "-data", root, "-dsn", dsn, "-once").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second loader: %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "another loader ("+want+") is already running on data root "+root) {
		t.Errorf("second loader said %q, want it to name %s", out, want)
	}
	t.Logf("second loader: %s", strings.TrimSpace(string(out)))
	first.Process.Signal(syscall.SIGTERM)
	if err := first.Wait(); err != nil {
		t.Errorf("first loader after SIGTERM: %v", err)
	}
}
