package loader_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/testdb"
)

// TestDamagedTable damages a day table's files in several ways; loader must
// notice, repair or rebuild, and end with every row exactly once.
func TestDamagedTable(t *testing.T) {
	cases := []struct {
		name string
		ext  string
		how  func(path string)
	}{
		{"truncate MYI", ".MYI", func(p string) { os.Truncate(p, 1024) }},
		{"zero MYI header", ".MYI", func(p string) { testdb.Overwrite(t, p, 0, make([]byte, 512)) }},
		{"garbage in MYD", ".MYD", func(p string) { testdb.Overwrite(t, p, 100, []byte(strings.Repeat("\xff", 4000))) }},
		{"truncate MYD", ".MYD", func(p string) { fi, _ := os.Stat(p); os.Truncate(p, fi.Size()/2) }},
	}
	// Today: loader checks the tables of today and yesterday when it starts.
	ts := time.Now().Truncate(time.Hour)
	name := "A" + ts.Format("20060102")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, _ := testdb.New(t)
			root := t.TempDir()
			writeRows(t, root, "A", 5000, 1000, ts, 6, true)
			runOnce(t, newLoader(t, db, loader.Config{Root: root}))
			testdb.Damage(t, db, name, c.ext, c.how)
			writeRows(t, root, "A", 1000, 1000, ts.Add(time.Minute), 7, true)
			// A restarted loader (damage comes with crashes) finds it.
			l := newLoader(t, db, loader.Config{Root: root})
			runOnce(t, l)
			st := l.Stats()
			if st.Repairs.Load() == 0 || st.Rebuilds.Load() == 0 {
				t.Errorf("loader did not notice the damage (repairs %d, rebuilds %d)", st.Repairs.Load(), st.Rebuilds.Load())
			}
			rb := &rebuild.Rebuilder{Root: root, DB: db, Attempts: 3}
			ms, err := rb.Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				t.Errorf("recover -check: %s", m)
			}
			if n := testdb.Count(t, db, name); n != 6000 {
				t.Errorf("%d rows after recovery, want 6000", n)
			}
		})
	}
}

// TestDatabaseGoesAway stops a MariaDB instance of the test's own (a clean
// shutdown; TestDatabaseCrash kills it) in the middle of a backlog and
// starts it again, while loader runs as a daemon: while it is away nothing
// is loaded, nothing is given up on, every file stays; once back, every
// row is loaded once.
func TestDatabaseGoesAway(t *testing.T) {
	in := testdb.NewInstance(t)
	dsn := in.DSN
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := mariadb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	root := t.TempDir()
	const rows = 30000
	writeRows(t, root, "A", rows, 300, t0, 8, false)
	total := pendingLoads(t, root)
	l := newLoader(t, conn, loader.Config{Root: root, Interval: 100 * time.Millisecond, MaxBatchFiles: 2})
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	waitFor(t, time.Minute, "loader to start loading", func() bool { return l.Stats().Files.Load() > 0 })
	in.Down()
	st := l.Stats()
	loaded, pending := st.Files.Load(), pendingLoads(t, root)
	if loaded == 0 || pending == 0 || int(loaded)+pending != total {
		t.Fatalf("at shutdown %d files loaded and %d pending of %d: want the server to go away mid-backlog", loaded, pending, total)
	}
	time.Sleep(2 * time.Second)
	if st.Files.Load() != loaded || pendingLoads(t, root) != pending || st.Failures.Load() != 0 || st.Rejected.Load() != 0 {
		t.Errorf("while the server was down: %d files loaded (was %d), %d pending (was %d), %d failures, %d rejected",
			st.Files.Load(), loaded, pendingLoads(t, root), pending, st.Failures.Load(), st.Rejected.Load())
	}
	in.Up()
	waitFor(t, 90*time.Second, "the backlog to be loaded after the server came back", func() bool { return pendingLoads(t, root) == 0 })
	cancel()
	<-done
	if n := testdb.Count(t, conn, "A"+t0.Format("20060102")); n != rows {
		t.Errorf("%d rows, want %d", n, rows)
	}
	if st.Files.Load() != uint64(total) || st.Failures.Load() != 0 {
		t.Errorf("%d files loaded of %d, %d failures", st.Files.Load(), total, st.Failures.Load())
	}
}
