package daemon_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acstore/acstore/internal/daemon"
)

// TestSystemdNotify listens on a real datagram socket as systemd does
// (NOTIFY_SOCKET, WATCHDOG_USEC) and checks what a daemon sends: READY=1
// with the stats line as STATUS, watchdog pings at half the interval, and
// STOPPING=1 at shutdown.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", strconv.Itoa(int((200 * time.Millisecond).Microseconds())))
	t.Setenv("WATCHDOG_PID", "")

	ctx, cancel := context.WithCancel(context.Background())
	c := daemon.Common{StatsEvery: 0}
	n := 0
	line := func() []any { n++; return []any{slog.Int("files", 42), slog.String("state", "fine")} }
	if err := c.Observe(ctx, slog.New(slog.DiscardHandler), func(prometheus.Registerer) {}, line); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:k])
	}
	if got := read(); got != "READY=1\nSTATUS=files=42 state=fine" {
		t.Errorf("first notification %q", got)
	}
	start := time.Now()
	for i := 0; i < 3; i++ {
		if got := read(); !strings.HasPrefix(got, "WATCHDOG=1\nSTATUS=files=42") {
			t.Errorf("ping %d: %q", i, got)
		}
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("3 pings in %v, want about 300ms (every 100ms: half of WATCHDOG_USEC)", d)
	}
	cancel()
	for {
		got := read()
		if got == "STOPPING=1" {
			break
		}
		if !strings.HasPrefix(got, "WATCHDOG=1") {
			t.Fatalf("at shutdown: %q", got)
		}
	}
}
