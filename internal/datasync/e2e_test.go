package datasync_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/testdb"
)

// TestTwoBranches runs a real TLS server and two branches (one writing
// LZ4 sync_files and shipping them as they are, one shipping with -compress
// xz) on loopback. After push -once on both, head office's day tables hold
// exactly the rows of both branches' sync_files (count and checksum per
// table and day), the config tables are those of each branch, and the
// attachments are unpacked byte-identical. A second push sends nothing, and
// a changed config table is replaced, not added to.
func TestTwoBranches(t *testing.T) {
	db, _ := testdb.New(t)
	p := newPKI(t, gwA, gwB)
	hoRoot := t.TempDir()
	srv := startServer(t, hoRoot, db, p, nil)

	rootA, rootB := t.TempDir(), t.TempDir()
	attA := branch(t, rootA, gwA, 1, 60, logfile.LZ4)
	attB := branch(t, rootB, gwB, 2, 40, logfile.LZ4)
	cfgA := clientConfig(t, rootA, gwA, srv.URL, p)
	cfgB := clientConfig(t, rootB, gwB, srv.URL, p)
	cfgB.Codec = logfile.XZ
	cA := push(t, cfgA)
	cB := push(t, cfgB)
	loadAll(t, srv)
	checkHeadOffice(t, db, hoRoot, rootA, gwA, attA)
	checkHeadOffice(t, db, hoRoot, rootB, gwB, attB)

	if n := testdb.Count(t, db, "A20261121"); n != 3*60+3*40 {
		t.Errorf("A20261121 has %d rows, want %d", n, 3*60+3*40)
	}
	if n := testdb.Count(t, db, "Q20261120"); n != 60+40 {
		t.Errorf("Q20261120 has %d rows, want 100", n)
	}
	// 4 windows, 11 tables and an X file each.
	if n := cA.Stats().Files.Load(); n != 4*12 {
		t.Errorf("branch A sent %d files, want 48", n)
	}
	if w := cA.Watermark(); w != "20261121_1310" {
		t.Errorf("branch A watermark %q", w)
	}
	// B's files arrived as xz.
	xzFiles := 0
	logfile.WalkSync(hoRoot, func(path string, n logfile.Name) error {
		if n.Gateway == gwB && n.Table != 'X' {
			data, _ := os.ReadFile(path)
			if len(data) > 6 && string(data[1:5]) == "7zXZ" {
				xzFiles++
			}
		}
		return nil
	})
	if xzFiles != 4*11 {
		t.Errorf("%d of B's files are xz at head office, want 44", xzFiles)
	}
	if cB.Stats().WireBytes.Load() >= cA.Stats().WireBytes.Load() {
		t.Logf("note: xz wire bytes %d vs lz4 %d (different row counts)", cB.Stats().WireBytes.Load(), cA.Stats().WireBytes.Load())
	}
	gws, err := datasync.ReadServerState(hoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, gw := range []string{gwA, gwB} {
		if g := gws[gw]; g == nil || g.LastReceived != "20261121_1310" || g.LastLoaded != "20261121_1310" {
			t.Errorf("server state of %s: %+v", gw, g)
		}
	}

	// Nothing new: a second pass sends no file.
	again := push(t, cfgA)
	if n := again.Stats().Files.Load() + again.Stats().Configs.Load(); n != 0 {
		t.Errorf("second push sent %d files", n)
	}
	// A changed config table replaces the branch's rows.
	writeConfig(t, rootA, gwA, 1)
	c3 := push(t, cfgA)
	if n := c3.Stats().Configs.Load(); n != 2 {
		t.Errorf("changed config: %d tables sent, want 2 (users and apps changed)", n)
	}
	loadAll(t, srv)
	checkHeadOffice(t, db, hoRoot, rootA, gwA, attA)
	checkHeadOffice(t, db, hoRoot, rootB, gwB, attB)
	if n := testdb.Count(t, db, "users"); n != 4 {
		t.Errorf("users has %d rows, want 2 per gateway", n)
	}
	if _, err := os.Stat(filepath.Join(hoRoot, "incoming", gwA)); err == nil {
		left, _ := filepath.Glob(filepath.Join(hoRoot, "incoming", gwA, "*"))
		if len(left) != 0 {
			t.Errorf("incoming files left: %v", left)
		}
	}
}
