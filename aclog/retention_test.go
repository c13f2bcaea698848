package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/testenv"
)

// TestLiveWatermarks runs the real aclog live on lo over a data root that
// holds a past day (a 2022 capture read with -r) which datasync push has
// not shipped (its head office is unreachable). Above -disk-high alone
// the day stays and aclog says why; above -disk-critical it goes, logged
// as an error. The disk is the machine's own: any use is above 1%.
func TestLiveWatermarks(t *testing.T) {
	testenv.Root(t, "aclog -i captures live")
	aclog, _ := buildTools(t)
	root := t.TempDir()
	if out, err := exec.Command(aclog, "-r", "testdata/pcaps/mixed/tls-subjectaltname_input.pcap", "-data", root,
		"-gateway", testGW, "-high-performance", "-stats-interval", "0").CombinedOutput(); err != nil {
		t.Fatalf("aclog -r: %v\n%s", err, out)
	}
	day := filepath.Join(root, "sync", testGW, "20220317")
	if _, err := os.Stat(day); err != nil {
		t.Fatalf("the capture's day: %v", err)
	}
	c, err := datasync.NewClient(datasync.ClientConfig{Root: root, Server: "http://127.0.0.1:1", Gateway: testGW,
		Secret: "secret-of-5F86F7A5-0123456789", TLS: datasync.TLSFiles{Insecure: true}, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RunOnce(context.Background()); err == nil {
		t.Fatal("push to a closed port succeeded")
	}
	c.Close()

	live := func(marks ...string) string {
		t.Helper()
		cmd := exec.Command(aclog, append([]string{"-i", "lo", "-data", root, "-gateway", testGW, "-high-performance",
			"-stats-interval", "0"}, marks...)...)
		// A file, not a buffer: it is read while aclog writes it.
		log, err := os.Create(filepath.Join(t.TempDir(), "aclog.log"))
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		read := func() string { b, _ := os.ReadFile(log.Name()); return string(b) }
		// The first look at the disk is at start; give it time to finish.
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(read(), "disk") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("aclog -i %v after SIGTERM: %v\n%s", marks, err, read())
		}
		return read()
	}
	out := live("-disk-high", "1", "-disk-critical", "0")
	if _, err := os.Stat(day); err != nil {
		t.Fatalf("above -disk-high only, the unshipped day was removed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "disk still above its watermark") {
		t.Errorf("aclog did not say why the disk stays above -disk-high:\n%s", lastLines(out, 5))
	}
	out = live("-disk-high", "1", "-disk-critical", "1")
	if _, err := os.Stat(day); !os.IsNotExist(err) {
		t.Fatalf("above -disk-critical, the day was kept: %v\n%s", err, lastLines(out, 5))
	}
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "DISK CRITICALLY FULL: removed a day head office has NOT received") || !strings.Contains(out, "day=20220317") {
		t.Errorf("the removal of an unshipped day was not logged as an error:\n%s", lastLines(out, 5))
	}
}
