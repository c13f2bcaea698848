package main

import (
	"bytes"
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

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/testenv"
)

// TestWatchTcpdumpRotation follows a directory that a real tcpdump -G 1
// rotates into on lo while DNS queries with numbered names go out, kills
// aclog -watch with SIGKILL in the middle and starts it again: every query
// is in the Q rows exactly once, and -watch-delete leaves no capture.
func TestWatchTcpdumpRotation(t *testing.T) {
	testenv.Root(t, "capture on lo")
	tcpdump := testenv.Tool(t, "tcpdump")
	aclog, _ := buildTools(t)
	dir, root := t.TempDir(), t.TempDir()

	// DNS is told by port 53; whether or not something answers on
	// 127.0.0.1, each query is one Q row. Other tests on this machine may
	// query on lo at the same time: the filter takes only this test's
	// socket.
	const port = 53
	// Not connected: a connected socket would refuse every other send
	// after the ICMP port unreachable that nothing listening brings.
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	dump := exec.Command(tcpdump, "-i", "lo", "-n", "-U", "-Z", "root", "-G", "1", "-w", filepath.Join(dir, "cap-%Y%m%d-%H%M%S.pcap"),
		fmt.Sprintf("udp and host 127.0.0.1 and dst port %d and src port %d", port, conn.LocalAddr().(*net.UDPAddr).Port))
	var dumpOut bytes.Buffer
	dump.Stderr = &dumpOut
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	defer dump.Process.Kill()
	waitFor(t, "tcpdump listening", func() bool { return strings.Contains(dumpOut.String(), "listening on") })

	watch := func() *exec.Cmd {
		cmd := exec.Command(aclog, "-watch", dir, "-watch-delete", "-watch-poll", "100ms", "-data", root,
			"-gateway", testGW, "-reduce=false", "-load-interval", "100ms", "-stats-interval", "0")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	const queries = 200
	// Queries go out every 25 ms (5 s in all) while tcpdump rotates.
	sent := make(chan error, 1)
	go func() {
		for i := range queries {
			if _, err := conn.WriteTo(query(uint16(i), fmt.Sprintf("q%d.watch.example", i)), to); err != nil {
				sent <- err
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
		sent <- nil
	}()
	cmd := watch()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The first aclog has done part of the work: a capture with packets is
	// in the ledger (tcpdump's first file may hold none).
	withRows := regexp.MustCompile(` [1-9][0-9]* \S+\n`)
	waitFor(t, "a capture with rows in the ledger", func() bool {
		done, _ := os.ReadFile(filepath.Join(root, "state", "aclog", "done.log"))
		return withRows.Match(done)
	})
	// Kill it in the middle of a capture: the moment the ledger shows one
	// begun and not finished.
	openPath := filepath.Join(root, "state", "aclog", "open.json")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if open, _ := os.ReadFile(openPath); bytes.Contains(open, []byte(`"slot"`)) {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if open, _ := os.ReadFile(openPath); !bytes.Contains(open, []byte(`"slot"`)) {
		t.Fatalf("the kill did not land while a capture was being processed (ledger: %s)", open)
	}
	cmd = watch()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the last rotation
	dump.Process.Signal(syscall.SIGTERM)
	dump.Wait()
	waitFor(t, "every capture processed and deleted", func() bool {
		left, _ := filepath.Glob(filepath.Join(dir, "cap-*"))
		return len(left) == 0
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("aclog -watch after SIGTERM: %v", err)
	}
	done, _ := os.ReadFile(filepath.Join(root, "state", "aclog", "done.log"))
	if n := bytes.Count(done, []byte("\n")); n < 3 {
		t.Errorf("only %d captures processed; tcpdump -G 1 should have rotated more", n)
	}
	seen := map[string]int{}
	where := map[string][]string{} // qname -> file:id of each row, for the failure message
	err = logfile.WalkSync(root, func(path string, n logfile.Name) error {
		if n.Table != 'Q' {
			return nil
		}
		rs, err := logfile.OpenRows(path, logfile.LZ4)
		if err != nil {
			return err
		}
		defer rs.Close()
		rows := logfile.NewRows(rs)
		for rows.Next() {
			fields := strings.Split(string(rows.Row()), "\t")
			for _, f := range fields {
				if strings.HasSuffix(f, ".watch.example") {
					seen[f]++
					where[f] = append(where[f], filepath.Base(path)+":"+fields[0])
				}
			}
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range queries {
		if n := seen[fmt.Sprintf("q%d.watch.example", i)]; n != 1 {
			t.Errorf("query q%d: %d rows, want 1 (file:id %v)", i, n, where[fmt.Sprintf("q%d.watch.example", i)])
		}
	}
	if len(seen) != queries {
		t.Errorf("%d distinct queries in Q rows, want %d", len(seen), queries)
	}
}

// query is a DNS query for an A record of name: a 12-byte header (one
// question, recursion desired), the name as labels, type A, class IN.
func query(id uint16, name string) []byte {
	msg := []byte{byte(id >> 8), byte(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		msg = append(msg, byte(len(label)))
		msg = append(msg, label...)
	}
	return append(msg, 0, 0, 1, 0, 1)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for: %s", what)
}
