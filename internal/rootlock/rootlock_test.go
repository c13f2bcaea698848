package rootlock_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/rootlock"
)

// TestHolderPID: a second process asking for the lock is refused with the
// holder's pid; once the holder is killed (-9: no clean-up), the lock is
// free again.
func TestHolderPID(t *testing.T) {
	if os.Getenv("ROOTLOCK_HOLD") != "" {
		l, err := rootlock.Acquire(os.Getenv("ROOTLOCK_HOLD"), "loader")
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("HELD")
		defer l.Release()
		time.Sleep(time.Minute)
		return
	}
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=TestHolderPID$")
	cmd.Env = append(os.Environ(), "ROOTLOCK_HOLD="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf[:4]) != "HELD" {
		t.Fatalf("holder: %q %v", buf, err)
	}
	_, err = rootlock.Acquire(root, "loader")
	var held *rootlock.HeldError
	if !errors.As(err, &held) || held.PID != cmd.Process.Pid {
		t.Fatalf("second Acquire: %v, want held by pid %d", err, cmd.Process.Pid)
	}
	want := fmt.Sprintf("another loader (pid %d) is already running on data root %s (lock %s held)", cmd.Process.Pid, root, filepath.Join(root, "loader.lock"))
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\nwant prefix %q", err, want)
	}
	// Another program on the same root is not held back.
	other, err := rootlock.Acquire(root, "midtable")
	if err != nil {
		t.Fatalf("midtable next to loader: %v", err)
	}
	other.Release()

	cmd.Process.Kill()
	cmd.Wait()
	l, err := rootlock.Acquire(root, "loader")
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}
