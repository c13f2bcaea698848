package datasync_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/acstore/acstore/internal/testdb"
)

// TestDamagedConfigTable damages the users table at head office, as a
// crash of mariadbd in the middle of a load does. A restarted server
// checks its config tables and repairs it; a running one repairs it at
// the next load of a changed file. Then every gateway's rows are exact
// again, those of a gateway that sent nothing new included.
func TestDamagedConfigTable(t *testing.T) {
	cases := []struct {
		name, ext string
		how       func(path string)
		// A load notices the damage whichever rows it reads; garbage in
		// rows it does not read only CHECK TABLE sees, which the server
		// runs when it starts or the database comes back (a crash's
		// damage comes with both).
		running bool
	}{
		{"zero MYI header", ".MYI", func(p string) { testdb.Overwrite(t, p, 0, make([]byte, 512)) }, true},
		{"garbage in MYD", ".MYD", func(p string) { testdb.Overwrite(t, p, 0, bytes.Repeat([]byte{0xff}, 64)) }, false},
		{"truncated MYD", ".MYD", func(p string) { os.Truncate(p, 10) }, true},
	}
	for _, c := range cases {
		for _, restart := range []bool{false, true} {
			if !restart && !c.running {
				continue
			}
			t.Run(fmt.Sprintf("%s/restart=%v", c.name, restart), func(t *testing.T) {
				db, _ := testdb.New(t)
				hoRoot := t.TempDir()
				roots := map[string]string{gwA: t.TempDir(), gwB: t.TempDir()}
				srv := startServer(t, hoRoot, db, nil, nil)
				for g, root := range roots {
					writeConfig(t, root, g, 0)
					push(t, clientConfig(t, root, g, srv.URL, nil))
				}
				loadAll(t, srv)
				if p := configProblems(t, db, roots); len(p) > 0 {
					t.Fatalf("before the damage: %v", p)
				}
				testdb.Damage(t, db, "users", c.ext, c.how)
				if restart {
					srv.Stop()
					srv = startServer(t, hoRoot, db, nil, nil)
				} else {
					writeConfig(t, roots[gwA], gwA, 1)
					push(t, clientConfig(t, roots[gwA], gwA, srv.URL, nil))
				}
				loadAll(t, srv)
				for _, p := range configProblems(t, db, roots) {
					t.Error(p)
				}
				if n := testdb.Count(t, db, "users"); n != 4 {
					t.Errorf("users has %d rows, want 2 per gateway", n)
				}
			})
		}
	}
}
