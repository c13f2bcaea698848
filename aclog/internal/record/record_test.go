package record

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/internal/configtab"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/xbundle"
)

const gw = "5F86F7A5"

func newRecorder(t *testing.T, mod func(*Config)) (*Recorder, *logfile.Spool, string) {
	root := t.TempDir()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Codec: logfile.LZ4, HighPerformance: true})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := configtab.Load(configtab.Dir(root))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Root, cfg.Gateway = root, gw
	if mod != nil {
		mod(&cfg)
	}
	return New(sp, conf, cfg), sp, root
}

func bundle(t *testing.T, path string) []xbundle.Entry {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	r, err := xbundle.NewReader(f, fi.Size())
	if err != nil || r.Err() != nil {
		t.Fatal(err, r.Err())
	}
	return r.Entries()
}

// TestBundleLateContent: content that arrives for a window whose bundle is
// already written is added to it, and nothing it held is lost.
func TestBundleLateContent(t *testing.T) {
	r, sp, root := newRecorder(t, nil)
	w := time.Date(2026, 3, 1, 10, 5, 0, 0, time.Local)
	r.storeX(w.Add(time.Minute), "a.txt", "text/plain", []byte("first"), false)
	r.Advance(w.Add(6 * time.Minute))
	path := logfile.Name{Window: w, Gateway: gw, Table: 'X'}.Path(root)
	if got := bundle(t, path); len(got) != 1 || got[0].Name != "a.txt" {
		t.Fatalf("bundle %+v", got)
	}
	if ref := r.storeX(w.Add(2*time.Minute), "b.txt", "text/plain", []byte("late"), false); ref == "-" {
		t.Fatal("late content not kept")
	}
	r.Close()
	sp.Close()
	if got := bundle(t, path); len(got) != 2 || got[1].Name != "b.txt" {
		t.Fatalf("bundle after late content %+v", got)
	}
	if s := r.Stats(); s.XBundles != 2 || s.XFiles != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestCaps: a file over the per-file cap and one over the window's room
// are not stored, and each is counted.
func TestCaps(t *testing.T) {
	r, _, _ := newRecorder(t, func(c *Config) { c.XMaxFile, c.XMaxWindow = 10, 15 })
	ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.Local)
	if r.storeX(ts, "big", "", make([]byte, 11), false) != "-" || r.storeX(ts, "cut", "", []byte("x"), true) != "-" {
		t.Error("stored over the file cap, or a cut file")
	}
	if r.storeX(ts, "a", "", []byte("0123456789"), false) == "-" || r.storeX(ts, "b", "", []byte("abcdefghij"), false) != "-" {
		t.Error("window cap not applied")
	}
	if s := r.Stats(); s.XCutFile != 2 || s.XCutWindow != 1 || s.XFiles != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestReduce: static resources are dropped and repeats folded, each
// counted; with reduction off every row is written.
func TestReduce(t *testing.T) {
	for _, on := range []bool{true, false} {
		r, sp, _ := newRecorder(t, func(c *Config) { c.Reduce.Enabled = on })
		ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.Local)
		cl, sv := netip.MustParseAddrPort("10.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.2:80")
		reqs := []*audit.HTTPRequest{
			{Time: ts, Client: cl, Server: sv, Method: "GET", Host: "h", URI: "/logo.png"},
			{Time: ts, Client: cl, Server: sv, Method: "GET", Host: "h", URI: "/x", ContentType: "text/css"},
			{Time: ts, Client: cl, Server: sv, Method: "GET", Host: "h", URI: "/page"},
			{Time: ts.Add(10 * time.Second), Client: cl, Server: sv, Method: "GET", Host: "h", URI: "/page"},
			{Time: ts.Add(2 * time.Minute), Client: cl, Server: sv, Method: "GET", Host: "h", URI: "/page"},
		}
		for _, h := range reqs {
			r.HTTP(h)
		}
		st := sp.Stats()
		red := r.Stats().Reduced
		if on && (st.Rows['U'] != 2 || red["static"] != 2 || red["repeat-U"] != 1) || !on && st.Rows['U'] != 5 {
			t.Errorf("reduce=%v: %d U rows, reduced %v", on, st.Rows['U'], red)
		}
	}
}
