package datasync_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/syncbuf"
	"github.com/acstore/acstore/internal/testdb"
)

// TestPermanentErrorsFailFast: a push that cannot succeed by trying again
// (a server certificate from a CA the branch does not trust, a wrong
// secret) gives up within seconds with the real reason, although its
// backoff would wait minutes; the backlog counts the files pending; the
// state keeps the real error until a push succeeds, which clears it. The
// server logs the refused handshake.
func TestPermanentErrorsFailFast(t *testing.T) {
	db, _ := testdb.New(t)
	p, stranger := newPKI(t, gwA), newPKI(t)
	var serverLog syncbuf.Buffer
	ts := startServer(t, t.TempDir(), db, p, func(c *datasync.ServerConfig) {
		c.Logger = slog.New(slog.NewTextHandler(&serverLog, nil))
	})
	root := t.TempDir()
	branch(t, root, gwA, 1, 20, logfile.LZ4)

	for _, tc := range []struct {
		name   string
		mod    func(*datasync.ClientConfig)
		reason string
	}{
		{"untrusted server certificate", func(c *datasync.ClientConfig) { c.TLS.CA = stranger.ca }, "not signed by a CA this branch trusts"},
		{"wrong secret", func(c *datasync.ClientConfig) { c.Secret = "not-the-secret-0123456789" }, "the server refused this branch (401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clientConfig(t, root, gwA, ts.URL, p)
			// Backoff that would take minutes if these were retried.
			cfg.Retries, cfg.MinBackoff, cfg.MaxBackoff = 20, 5*time.Second, time.Minute
			tc.mod(&cfg)
			c, err := datasync.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			began := time.Now()
			err = c.RunOnce(context.Background())
			took := time.Since(began)
			if took > 5*time.Second {
				t.Errorf("gave up after %v, want seconds", took)
			}
			t.Logf("gave up after %v: %v", took.Round(time.Millisecond), err)
			if err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %v, want the reason %q", err, tc.reason)
			}
			if n := c.Stats().Backlog.Load(); n == 0 {
				t.Error("backlog 0 with every file pending")
			}
			st, err := datasync.ReadClientStatus(root, gwA)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(st.LastError, tc.reason) || st.Backlog == 0 {
				t.Errorf("status: last error %q, backlog %d", st.LastError, st.Backlog)
			}
		})
	}
	if log := serverLog.String(); !strings.Contains(log, "refused a TLS handshake") || !strings.Contains(log, "bad certificate") {
		t.Errorf("the server did not log the refused handshake:\n%s", log)
	}
	push(t, clientConfig(t, root, gwA, ts.URL, p))
	st, err := datasync.ReadClientStatus(root, gwA)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastError != "" || st.Backlog != 0 {
		t.Errorf("after a successful push: last error %q, backlog %d", st.LastError, st.Backlog)
	}
}

// TestNoConfigTablesShipsNone: a branch that has no config tables does
// not ship empty ones (they would replace nothing with nothing at head
// office, and show up as tables the branch never had); removing one it
// had ships it empty.
func TestNoConfigTablesShipsNone(t *testing.T) {
	db, _ := testdb.New(t)
	p := newPKI(t, gwA)
	ts := startServer(t, t.TempDir(), db, p, nil)
	root := t.TempDir()
	branch(t, root, gwA, 2, 5, logfile.LZ4)
	if err := os.RemoveAll(filepath.Join(root, "config")); err != nil {
		t.Fatal(err)
	}
	c := push(t, clientConfig(t, root, gwA, ts.URL, p))
	if n := c.Stats().Configs.Load(); n != 0 {
		t.Errorf("%d config tables shipped from a branch without any", n)
	}
	writeConfig(t, root, gwA, 1)
	c = push(t, clientConfig(t, root, gwA, ts.URL, p))
	had := c.Stats().Configs.Load()
	if had == 0 {
		t.Fatal("config tables written later were not shipped")
	}
	os.Remove(filepath.Join(root, "config", "users.tsv"))
	c = push(t, clientConfig(t, root, gwA, ts.URL, p))
	if n := c.Stats().Configs.Load(); n != 1 {
		t.Errorf("removing users.tsv shipped %d config tables, want 1 (it, empty)", n)
	}
}

// TestOldDayReplayedIsShipped: rows written into a day older than the
// recheck horizon after newer windows were shipped (aclog -r replaying
// last week's capture) are shipped at the next pass; unchanged old days
// are not looked at again.
func TestOldDayReplayedIsShipped(t *testing.T) {
	db, _ := testdb.New(t)
	p := newPKI(t, gwA)
	hoRoot := t.TempDir()
	ts := startServer(t, hoRoot, db, p, nil)
	root := t.TempDir()
	branch(t, root, gwA, 3, 5, logfile.LZ4)
	push(t, clientConfig(t, root, gwA, ts.URL, p))

	old := t0.Add(-3 * 24 * time.Hour)
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gwA, HighPerformance: true})
	if err != nil {
		t.Fatal(err)
	}
	writeInto(t, sp, old, 9, 5)
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	c := push(t, clientConfig(t, root, gwA, ts.URL, p))
	if n := c.Stats().Files.Load(); n == 0 {
		t.Fatal("the replayed old day was not shipped")
	}
	name := logfile.Name{Window: logfile.WindowStart(old), Gateway: gwA, Table: 'A'}
	if _, err := os.Stat(filepath.Join(hoRoot, "sync", gwA, name.Day(), name.String())); err != nil {
		t.Errorf("head office lacks %s: %v", name, err)
	}
	c = push(t, clientConfig(t, root, gwA, ts.URL, p))
	if n := c.Stats().Files.Load() + c.Stats().Skipped.Load(); n != 0 {
		t.Errorf("a pass with nothing new sent or asked about %d files", n)
	}
}
