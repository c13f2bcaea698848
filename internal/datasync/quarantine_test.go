package datasync_test

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/hostile"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// badBundle is an X bundle whose second entry's data is damaged: the file
// arrives whole (its sha256 is right) but its content is bad.
func badBundle(t testing.TB) []byte {
	good := hostile.ZeroEntry(1000)
	bad := hostile.ZeroEntry(2000)
	bad.Sum[0] ^= 1 // the content does not hash to what it claims
	return hostile.Bundle(good, bad)
}

// TestQuarantine: a branch whose middle window holds a bad bundle ships
// every other file and window; the bad bundle gets 422 with quarantine,
// is set aside (counted, in the state and in `datasync status`) and not
// sent again; head office keeps nothing of it.
func TestQuarantine(t *testing.T) {
	hoRoot, root := t.TempDir(), t.TempDir()
	srv := startServer(t, hoRoot, nil, nil, nil)
	wins := []time.Time{t0, t0.Add(5 * time.Minute), t0.Add(10 * time.Minute)}
	for i, w := range wins {
		writeWindow(t, root, gwA, w, uint64(i+1), 30)
	}
	badName := logfile.Name{Window: wins[1], Gateway: gwA, Table: schema.Attachments}
	if err := os.WriteFile(badName.Path(root), badBundle(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := clientConfig(t, root, gwA, srv.URL, nil)
	c := push(t, cfg) // RunOnce must succeed: the bad file is not the branch's stop
	if n := c.Stats().Quarantined.Load(); n != 1 {
		t.Errorf("%d files quarantined, want 1", n)
	}
	if got, want := c.Watermark(), wins[2].Format(datasync.WindowLayout); got != want {
		t.Errorf("watermark %s, want %s: the windows after the bad file were not shipped", got, want)
	}
	var files int
	logfile.WalkSync(hoRoot, func(string, logfile.Name) error { files++; return nil })
	if want := 3 * 11; files != want {
		t.Errorf("%d files at head office, want %d (every file but the bad bundle)", files, want)
	}
	if _, err := os.Stat(badName.Path(hoRoot)); err == nil {
		t.Error("the bad bundle was published")
	}
	for _, dir := range []string{"incoming", "attachments"} {
		filepath.WalkDir(filepath.Join(hoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("left at head office: %s", path)
			}
			return nil
		})
	}
	if n := srv.Stats().BadContent.Load(); n != 1 {
		t.Errorf("server counted %d bad files, want 1", n)
	}
	// Not sent again on the next pass.
	c2 := push(t, cfg)
	if n := c2.Stats().Files.Load() + c2.Stats().Quarantined.Load(); n != 0 {
		t.Errorf("second pass sent %d files or quarantined again", n)
	}
	var out bytes.Buffer
	if err := datasync.PrintStatus(&out, root, gwA); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "quarantined: 1 file(s)") || !strings.Contains(out.String(), badName.String()) ||
		!strings.Contains(out.String(), "bad attachment bundle") {
		t.Errorf("status does not show the quarantined file:\n%s", out.String())
	}
}

// TestHostileBundles sends the bundles of the issue: each gets its exact
// status, head office keeps nothing of it, and the server's memory does
// not follow what they claim (checked in TestServerRSS for the binary).
func TestHostileBundles(t *testing.T) {
	hoRoot := t.TempDir()
	srv := startServer(t, hoRoot, nil, nil, func(c *datasync.ServerConfig) {
		c.MaxAttachment = 64 << 20
		c.Quota = 64 << 20
	})
	client := &http.Client{}
	claim := hostile.ZeroEntry(100)
	claim.Size = 1 << 30 // 152 bytes claiming a 1 GiB entry
	cases := []struct {
		name   string
		bundle []byte
		status int
		text   string
	}{
		{"152 bytes claiming a 1 GiB entry", hostile.Bundle(claim), 422, "over the 67108864 byte limit"},
		{"1.6 MB expanding to 400 MiB", hostile.Bundle(hostile.ZeroEntry(400 << 20)), 422, "over the 67108864 byte limit"},
		{"damaged content", badBundle(t), 422, "content does not match its size and sha256"},
		{"over the quota once unpacked", hostile.Bundle(hostile.ZeroEntry(40<<20), hostile.ZeroEntry(40<<20+1)), 507, "would unpack past the 67108864 byte quota"},
		{"not a bundle", []byte("ACXZ not a bundle at all"), 422, "not a bundle"},
	}
	for i, c := range cases {
		name := t0.Add(time.Duration(i)*5*time.Minute).Format(datasync.WindowLayout) + "_" + gwA + "_X.dat"
		before := listing(t, hoRoot)
		a := putFile(t, client, srv.URL, gwA, secretA, name, c.bundle)
		if a.status != c.status || !strings.Contains(a.body.Error, c.text) || a.body.Quarantine != (c.status == 422) {
			t.Errorf("%s (%d bytes): %d %s, want %d and %q", c.name, len(c.bundle), a.status, a.raw, c.status, c.text)
		}
		sameListing(t, c.name, before, listing(t, hoRoot))
	}
}

// TestQuotaCountsAttachments: what a bundle unpacks to counts in the
// quota, also after a restart: with -quota 64MB, a 410 KB bundle unpacking
// to 60 MiB is taken, and then the next upload gets 507.
func TestQuotaCountsAttachments(t *testing.T) {
	hoRoot := t.TempDir()
	quota := func(c *datasync.ServerConfig) { c.Quota = 64 << 20 }
	srv := startServer(t, hoRoot, nil, nil, quota)
	client := &http.Client{}
	bundle := hostile.Bundle(hostile.ZeroEntry(60 << 20))
	x := t0.Format(datasync.WindowLayout) + "_" + gwA + "_X.dat"
	if a := putFile(t, client, srv.URL, gwA, secretA, x, bundle); a.status != 200 {
		t.Fatalf("bundle of %d bytes: %d %s", len(bundle), a.status, a.raw)
	}
	next := make([]byte, 5<<20)
	for _, s := range []*testServer{srv, startServer(t, hoRoot, nil, nil, quota)} {
		if s != srv {
			srv.Stop()
		}
		before := listing(t, hoRoot)
		a := putFile(t, client, s.URL, gwA, secretA, t0.Format(datasync.WindowLayout)+"_"+gwA+"_A.dat", next)
		if a.status != 507 || !strings.Contains(a.body.Error, "quota of gateway "+gwA+" exceeded") {
			t.Errorf("upload past the quota (restarted %v): %d %s, want 507", s != srv, a.status, a.raw)
		}
		sameListing(t, "over quota", before, listing(t, hoRoot))
	}
}

// TestHostileSyncFile: an xz sync_file claiming a 1.5 GiB dictionary is
// refused at upload (422, quarantine) without being decompressed, and
// nothing is kept; a good xz file is taken.
func TestHostileSyncFile(t *testing.T) {
	hoRoot := t.TempDir()
	srv := startServer(t, hoRoot, nil, nil, nil)
	client := &http.Client{}
	name := t0.Format(datasync.WindowLayout) + "_" + gwA + "_A.dat"
	before := listing(t, hoRoot)
	bomb := hostile.XZDict([]byte("1\tx\n"), 37)
	a := putFile(t, client, srv.URL, gwA, secretA, name, bomb)
	if a.status != 422 || !a.body.Quarantine || !strings.Contains(a.body.Error, "xz dictionary of 1610612736 bytes asked for, more than the 67108864 byte limit") {
		t.Errorf("xz bomb of %d bytes: %d %s", len(bomb), a.status, a.raw)
	}
	sameListing(t, "xz bomb", before, listing(t, hoRoot))
	if a := putFile(t, client, srv.URL, gwA, secretA, name, []byte("garbage, not a sync_file")); a.status != 422 || !strings.Contains(a.body.Error, "unknown magic") {
		t.Errorf("garbage: %d %s", a.status, a.raw)
	}
	if a := putFile(t, client, srv.URL, gwA, secretA, name, hostile.XZDict([]byte("1\tx\n"), 20)); a.status != 200 {
		t.Errorf("good xz file: %d %s", a.status, a.raw)
	}
}
