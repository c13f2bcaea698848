package testdb

import (
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// reservePort picks a port for an Instance and holds it for the test's
// life. A killed server leaves its port free until Up starts it again, so
// a port that is merely free when chosen is not enough: another test
// process (go test runs packages in parallel) could take it in between.
// Ports are therefore reserved with an flock on a file named after them,
// which every test process on the machine honours and the kernel releases
// if the test dies. The range stays below the ephemeral ports (32768 and
// up), which an outgoing connection could take.
func reservePort(t testing.TB) int {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "acstore-testdb-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatalf("reserve a port: %v", err)
	}
	for range 200 {
		port := 20000 + mrand.IntN(12000)
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			t.Fatalf("reserve a port: %v", err)
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close()
			continue
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			t.Cleanup(func() { f.Close() })
			return port
		}
		f.Close()
	}
	t.Fatal("reserve a port: no free port in 20000-31999 after 200 tries")
	return 0
}
