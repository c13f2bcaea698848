package loader_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/testdb"
)

// killRecord is what was done and pending when the server was killed.
type killRecord struct {
	loaded   uint64 // files loaded before the kill, since the loader started
	pending  int    // load_files still on disk
	inFlight int    // LOAD DATA statements running on the server
}

func (k killRecord) hit() bool { return k.loaded > 0 && k.pending > 0 && k.inFlight > 0 }

func pendingLoads(t *testing.T, root string) int {
	left, err := filepath.Glob(filepath.Join(logfile.LoadDir(root), "*.load"))
	if err != nil {
		t.Fatal(err)
	}
	return len(left)
}

// loadsRunning counts the LOAD DATA statements the server is running in
// db's database.
func loadsRunning(db *sql.DB) int {
	var n int
	db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOAD DATA%' AND DB = DATABASE()").Scan(&n)
	return n
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%v passed waiting for %s", d, what)
		}
	}
}

// TestDatabaseCrash kills mariadbd (SIGKILL: MyISAM tables left open and
// unflushed, as in the seed's real failure) at random moments while loader
// works through a backlog as a daemon, and starts it again each time.
// Loader must find the tables the crash damaged on its own (CHECK when the
// server comes back, error numbers while loading), repair or rebuild them,
// and end with exactly the rows of the sync_files: counts and content.
func TestDatabaseCrash(t *testing.T) {
	in := testdb.NewInstance(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := mariadb.Open(ctx, in.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	root := t.TempDir()
	// The backlog: 1200 load_files of 100 rows, loaded three per statement
	// so that it lasts through the kills.
	const rows = 40000
	days := []time.Time{t0}
	writeRows(t, root, "AUM", rows, 100, t0, 21, true)
	l := newLoader(t, db, loader.Config{Root: root, Interval: 20 * time.Millisecond, MaxBatchFiles: 3})
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	rng := rand.New(rand.NewPCG(3, 4))
	var kills []killRecord
	// 12 kills, and more (up to 30) until one has left a table damaged:
	// a kill between statements may find every table flushed, and on a
	// loaded machine several can in a row.
	for len(kills) < 12 || l.Stats().Repairs.Load() == 0 && len(kills) < 30 {
		// Kill only once loader has loaded something since the server
		// came back, then at a random moment of the work that follows.
		before := l.Stats().Files.Load()
		waitFor(t, 2*time.Minute, "loader to load after a restart", func() bool { return l.Stats().Files.Load() > before })
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
		// Then at the next statement in flight.
		var k killRecord
		for deadline := time.Now().Add(2 * time.Second); k.inFlight == 0 && time.Now().Before(deadline); {
			k.inFlight = loadsRunning(db)
		}
		k.loaded, k.pending = l.Stats().Files.Load(), pendingLoads(t, root)
		if k.pending == 0 {
			break
		}
		in.Kill()
		kills = append(kills, k)
		in.Up()
	}
	last := kills[len(kills)-1]
	waitFor(t, 2*time.Minute, "the backlog to be loaded", func() bool { return pendingLoads(t, root) == 0 })
	cancel()
	<-done

	hits := 0
	for i, k := range kills {
		t.Logf("kill %2d: %4d files loaded, %4d pending, %d LOAD DATA running", i+1, k.loaded, k.pending, k.inFlight)
		if k.hit() {
			hits++
		}
	}
	st := l.Stats()
	t.Logf("%d kills, %d hit work done, pending and in flight; loader repaired %d and rebuilt %d tables",
		len(kills), hits, st.Repairs.Load(), st.Rebuilds.Load())
	if len(kills) < 10 || hits*3 < len(kills)*2 {
		t.Errorf("%d kills, %d of them mid-work: want at least 10, two thirds mid-work", len(kills), hits)
	}
	if st.Repairs.Load() == 0 {
		t.Errorf("no kill left a table damaged, or loader did not find it: the test saw no crash damage")
	}
	if last.pending == 0 {
		t.Errorf("the last restart had no work left")
	}
	if st.Failures.Load() != 0 || st.Rejected.Load() != 0 {
		t.Errorf("%d failures, %d files rejected: a crash must only delay files", st.Failures.Load(), st.Rejected.Load())
	}
	rb := &rebuild.Rebuilder{Root: root, DB: db}
	ms, err := rb.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		t.Errorf("recover -check after the crashes: %s", m)
	}
	for _, day := range days {
		for _, letter := range []byte("AUM") {
			name := string(letter) + day.Format("20060102")
			if n := testdb.Count(t, db, name); n != rows {
				t.Errorf("%s: %d rows, want %d", name, n, rows)
			}
		}
	}
}
