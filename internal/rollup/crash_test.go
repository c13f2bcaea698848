package rollup_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/testdb"
)

// replacing counts the statements of a block replacement (DELETE of the
// block's buckets, LOAD DATA of its new rows) the server is running.
func replacing(db *sql.DB) int {
	var n int
	db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND " +
		"(INFO LIKE 'DELETE FROM `Mid%' OR INFO LIKE 'LOAD DATA%')").Scan(&n)
	return n
}

// TestDatabaseCrashMidtable kills mariadbd in the middle of midtable's
// block replacements (tables locked, DELETE or LOAD DATA running) and
// starts it again, while midtable runs as a daemon. Midtable must find the
// damaged rollup tables on its own and end with the rows of an undisturbed
// run.
func TestDatabaseCrashMidtable(t *testing.T) {
	in := testdb.NewInstance(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := mariadb.Open(ctx, in.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	root := t.TempDir()
	// A day of one gateway: 6 blocks of each source to replace.
	if _, err := rowgen.Grouped(rowgen.GroupedConfig{Root: root, Gateway: gw1, Seed: 9, Start: day0, Windows: 288,
		RowsPerWindow: 4, Nasty: true}); err != nil {
		t.Fatal(err)
	}
	r := newRoller(t, db, rollup.Config{Root: root, Interval: 20 * time.Millisecond, Workers: 1})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	type kill struct {
		blocks   uint64 // blocks replaced before the kill
		pending  int64  // sync_files pending at the last scan
		inFlight int    // replacement statements running
	}
	var kills []kill
	rng := rand.New(rand.NewPCG(7, 8))
	st := r.Stats()
	for len(kills) < 6 {
		before := st.Blocks.Load()
		waitFor(t, 2*time.Minute, "midtable to replace a block", func() bool { return st.Blocks.Load() > before })
		time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
		var k kill
		for deadline := time.Now().Add(2 * time.Second); k.inFlight == 0 && time.Now().Before(deadline); {
			k.inFlight = replacing(db)
		}
		k.blocks, k.pending = st.Blocks.Load(), st.Pending.Load()
		if k.pending == 0 {
			break
		}
		in.Kill()
		kills = append(kills, k)
		in.Up()
	}
	up := time.Now().Unix()
	waitFor(t, 2*time.Minute, "midtable to finish the day", func() bool { return st.LastSuccess.Load() >= up && st.Pending.Load() == 0 })
	cancel()
	<-done

	hits := 0
	for i, k := range kills {
		t.Logf("kill %d: %3d blocks replaced, %4d sync_files pending, %d replacement statements running", i+1, k.blocks, k.pending, k.inFlight)
		if k.blocks > 0 && k.pending > 0 && k.inFlight > 0 {
			hits++
		}
	}
	t.Logf("%d kills, %d mid-replacement; midtable recomputed %d days for damaged tables", len(kills), hits, st.Repairs.Load())
	if len(kills) < 5 || hits*3 < len(kills)*2 {
		t.Errorf("%d kills, %d of them mid-replacement: want at least 5, two thirds", len(kills), hits)
	}
	if st.Repairs.Load() == 0 {
		t.Errorf("midtable found no damaged table after %d kills mid-replacement", len(kills))
	}

	// The undisturbed run: a database and a state of its own.
	cfg, err := mysql.ParseDSN(in.DSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = "calm"
	calm, err := mariadb.Open(context.Background(), cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer calm.Close()
	runOnce(t, newRoller(t, calm, rollup.Config{Root: root, StateDir: t.TempDir()}))
	got, want := dumpMids(t, db), dumpMids(t, calm)
	for name, w := range want {
		if g := got[name]; strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: %d rows after the crashes, %d undisturbed", name, len(g), len(w))
		}
	}
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
