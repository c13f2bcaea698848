package rebuild_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

// TestDatabaseCrashDuringRebuild kills mariadbd while recover fills the
// shadow table (at a random moment after a random file) and once when the
// shadow is full and about to be swapped in, then starts it again and
// rebuilds again: the table ends with exactly the rows of the sync_files
// and no shadow is left behind.
func TestDatabaseCrashDuringRebuild(t *testing.T) {
	in := testdb.NewInstance(t)
	ctx := context.Background()
	db, err := mariadb.Open(ctx, in.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	root := t.TempDir()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, HighPerformance: true})
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := schema.ByLetter('U')
	g := rowgen.New(31, true)
	const windows, perWindow = 24, 400
	for w := 0; w < windows; w++ {
		for i := 0; i < perWindow; i++ {
			if err := g.Row(sp, tb, t0.Add(time.Duration(w)*logfile.WindowLength+time.Duration(i)*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	day := t0.Format(schema.DayLayout)
	name := "U" + day
	rng := rand.New(rand.NewPCG(5, 6))
	type kill struct{ done, total int }
	var kills []kill
	for i := 0; i < 6; i++ {
		// Kill after file `at` (the last kill: with the shadow full, before
		// the swap), from another goroutine a random few ms later, so most
		// kills land in the middle of the next file's LOAD DATA.
		at := 1 + rng.IntN(windows-1)
		if i == 5 {
			at = windows
		}
		fired := make(chan kill, 1)
		r := &rebuild.Rebuilder{Root: root, DB: db, Attempts: 1, Progress: func(_ string, done, total int) {
			if done == at {
				fired <- kill{done, total}
				if done == total {
					time.Sleep(time.Second) // the kill comes before the swap
				}
			}
		}}
		errc := make(chan error, 1)
		go func() { _, err := r.Table(ctx, 'U', day); errc <- err }()
		var k kill
		select {
		case k = <-fired:
		case err := <-errc:
			t.Fatalf("rebuild ended before file %d: %v", at, err)
		}
		if k.done < k.total {
			time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond)
		}
		in.Kill()
		if err := <-errc; err == nil {
			t.Errorf("kill %d after file %d of %d: the rebuild did not notice", i+1, k.done, k.total)
		}
		kills = append(kills, k)
		in.Up()
		res, err := (&rebuild.Rebuilder{Root: root, DB: db, Attempts: 1}).Table(ctx, 'U', day)
		if err != nil || res.Rows != windows*perWindow {
			t.Fatalf("rebuild after kill %d: %+v %v", i+1, res, err)
		}
		if ms, err := (&rebuild.Rebuilder{Root: root, DB: db}).Check(ctx); err != nil || len(ms) != 0 {
			t.Fatalf("check after kill %d: %v %v", i+1, ms, err)
		}
		if tables, _ := mariadb.Tables(ctx, db); len(tables) != 1 || tables[0] != name {
			t.Fatalf("tables after kill %d: %v, want only %s", i+1, tables, name)
		}
		// Lose some rows, so the next rebuild has something to restore.
		if _, err := db.Exec("DELETE FROM " + name + " WHERE id % 5 = 0"); err != nil {
			t.Fatal(err)
		}
	}
	hits := 0
	for i, k := range kills {
		t.Logf("kill %d: %d of %d files in the shadow table", i+1, k.done, k.total)
		if k.done > 0 && k.done <= k.total {
			hits++
		}
	}
	if hits != len(kills) {
		t.Errorf("%d of %d kills hit a rebuild in progress", hits, len(kills))
	}
}
