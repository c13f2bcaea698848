package retention_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testenv"
	"github.com/acstore/acstore/internal/xbundle"
)

const (
	gw     = "5F86F7A5"
	secret = "secret-of-5F86F7A5-0123456789"
)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("RETENTION_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// tmpfs mounts a tmpfs of size bytes for the test: a real small disk that
// fills up.
func tmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	testenv.Tmpfs(t, dir, fmt.Sprint(size))
	return dir
}

// writeDay writes rows of every log table into two windows of the day of
// at (sync_files and load_files, as aclog does), and an attachment
// bundle of xbytes random (incompressible) bytes in the first window.
func writeDay(t testing.TB, root string, at time.Time, rows int, xbytes int) {
	t.Helper()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, MaxLoadBacklog: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	g := rowgen.New(uint64(at.Unix()), false)
	for _, w := range []time.Time{at, at.Add(5 * time.Minute)} {
		for i := 0; i < rows; i++ {
			for _, tb := range schema.LogTables() {
				if err := g.Row(sp, tb, w.Add(time.Duration(i)*time.Millisecond)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := sp.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if xbytes == 0 {
		return
	}
	n := logfile.Name{Window: logfile.WindowStart(at), Gateway: gw, Table: schema.Attachments}
	f, err := os.Create(n.Path(root))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw, err := xbundle.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	content := make([]byte, xbytes)
	rand.Read(content)
	if _, err := bw.Add("capture.bin", "application/octet-stream", content); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
}

// dayDir is where a day's sync_files are.
func dayDir(root string, day time.Time) string {
	return filepath.Join(root, "sync", gw, day.Format(schema.DayLayout))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// server is a real head-office datasync server on loopback (plaintext).
type server struct {
	*datasync.Server
	URL    string
	cancel context.CancelFunc
	done   chan error
}

func startServer(t testing.TB, root string, db *sql.DB, ln net.Listener) *server {
	t.Helper()
	srv, err := datasync.NewServer(datasync.ServerConfig{Root: root, Gateways: map[string]string{gw: secret},
		TLS: datasync.TLSFiles{Insecure: true}, IdleTimeout: 5 * time.Second, LoadInterval: time.Hour, Logger: testLogger(t)}, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{Server: srv, URL: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		s.cancel()
		<-s.done
		s.Close()
	})
	return s
}

// push runs one real datasync push pass from root to url.
func push(t testing.TB, root, url string) error {
	t.Helper()
	c, err := datasync.NewClient(datasync.ClientConfig{Root: root, Server: url, Gateway: gw, Secret: secret,
		TLS: datasync.TLSFiles{Insecure: true}, Retries: 2, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Idle: 5 * time.Second, Recheck: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.RunOnce(context.Background())
}

// countRows counts the rows of every sync_file of day on root, by table.
func countRows(t testing.TB, root string, day time.Time) map[string]int {
	t.Helper()
	out := make(map[string]int)
	err := logfile.WalkSync(root, func(path string, n logfile.Name) error {
		if n.Table == schema.Attachments || n.Day() != day.Format(schema.DayLayout) {
			return nil
		}
		rs, err := logfile.OpenRows(path, logfile.LZ4)
		if err != nil {
			return err
		}
		defer rs.Close()
		rows := logfile.NewRows(rs)
		for rows.Next() {
			out[n.DayTable()]++
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tableDay returns the day of a day table or a rollup table.
func tableDay(name string) (string, bool) {
	if day, ok := retention.DayTable(name); ok {
		return day, true
	}
	return rollup.TableDay(name)
}
