package record

import (
	"flag"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/internal/configtab"
	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
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

// rows returns the rows of table letter in the published sync_files
// under root, as column name to field text (`\N` for NULL).
func rows(t *testing.T, root string, letter byte) []map[string]string {
	t.Helper()
	tb, _ := schema.ByLetter(letter)
	cols := tb.FileColumns()
	var out []map[string]string
	err := logfile.WalkSync(root, func(path string, n logfile.Name) error {
		if n.Table != letter {
			return nil
		}
		rs, err := logfile.OpenRows(path, logfile.LZ4)
		if err != nil {
			return err
		}
		defer rs.Close()
		rows := logfile.NewRows(rs)
		for rows.Next() {
			fs, err := logfile.SplitRow(rows.Row())
			if err != nil || len(fs) != len(cols) {
				t.Fatalf("%s: row %q: %v", path, rows.Row(), err)
			}
			row := map[string]string{}
			for i, c := range cols {
				row[c] = fs[i].String()
			}
			out = append(out, row)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["ts"]+out[i]["uri"] < out[j]["ts"]+out[j]["uri"] })
	return out
}

// TestReduce: static resources are dropped; repeats are folded into the
// row kept, which counts them (repeat_count) and has the last one's time
// (last_ts); a fold never crosses the end of the 5-minute window. With
// reduction off every row is written, each counting 1.
func TestReduce(t *testing.T) {
	ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.Local)
	cl, sv := netip.MustParseAddrPort("10.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.2:80")
	get := func(at time.Duration, uri, ctype string) *audit.HTTPRequest {
		return &audit.HTTPRequest{Time: ts.Add(at), Client: cl, Server: sv, Method: "GET", Host: "h", URI: uri, ContentType: ctype}
	}
	reqs := []*audit.HTTPRequest{
		get(0, "/logo.png", ""),
		get(0, "/x", "text/css"),
		get(0, "/page", ""),
		get(10*time.Second, "/page", ""),
		get(20*time.Second, "/page", ""),
		get(2*time.Minute, "/page", ""),             // after the fold window: a row of its own
		get(4*time.Minute+50*time.Second, "/w", ""), // folding stops at 10:05 ...
		get(4*time.Minute+55*time.Second, "/w", ""),
		get(5*time.Minute+5*time.Second, "/w", ""), // ... so this is the next window's row
	}
	type wantRow struct {
		uri, ts, last, count string
	}
	stamp := func(d time.Duration) string { return ts.Add(d).Format("2006-01-02 15:04:05.000000") }
	for _, c := range []struct {
		name    string
		mod     func(*Config)
		want    []wantRow
		reduced map[string]uint64
	}{
		{"on", nil, []wantRow{
			{"/page", stamp(0), stamp(20 * time.Second), "3"},
			{"/page", stamp(2 * time.Minute), stamp(2 * time.Minute), "1"},
			{"/w", stamp(290 * time.Second), stamp(295 * time.Second), "2"},
			{"/w", stamp(305 * time.Second), stamp(305 * time.Second), "1"},
		}, map[string]uint64{"static": 2, "repeat-U": 3}},
		{"off", func(c *Config) { c.Reduce.Enabled = false }, nil, map[string]uint64{}},
		{"Q only", func(c *Config) { c.Reduce.Tables = "Q" }, nil, map[string]uint64{}},
		{"own static patterns", func(c *Config) {
			c.Reduce.StaticExts, c.Reduce.StaticTypes, c.Reduce.RepeatWindow = List{"PNG"}, List{"text/*"}, 0
		}, nil, map[string]uint64{"static": 2}},
	} {
		for _, hash := range keyHashes {
			t.Run(c.name+", "+hash.name, func(t *testing.T) {
				r, sp, root := newRecorder(t, c.mod)
				setKeyHash(r, hash.keep)
				for _, h := range reqs {
					r.HTTP(h)
				}
				r.Close()
				if err := sp.Close(); err != nil {
					t.Fatal(err)
				}
				got := rows(t, root, 'U')
				want := c.want
				if want == nil { // nothing folded: each request not dropped is a row
					for _, h := range reqs[c.reduced["static"]:] {
						at := h.Time.Format("2006-01-02 15:04:05.000000")
						want = append(want, wantRow{h.URI, at, at, "1"})
					}
				}
				sort.Slice(want, func(i, j int) bool { return want[i].ts+want[i].uri < want[j].ts+want[j].uri })
				if len(got) != len(want) {
					t.Fatalf("%d U rows, want %d: %v", len(got), len(want), got)
				}
				for i, w := range want {
					g := got[i]
					if g["uri"] != w.uri || g["ts"] != w.ts || g["last_ts"] != w.last || g["repeat_count"] != w.count {
						t.Errorf("row %d: uri %s ts %s last_ts %s repeat_count %s, want %+v", i, g["uri"], g["ts"], g["last_ts"], g["repeat_count"], w)
					}
				}
				if red := r.Stats().Reduced; !maps.Equal(red, c.reduced) {
					t.Errorf("reduced %v, want %v", red, c.reduced)
				}
			})
		}
	}
}

// TestReduceDNS: repeated queries fold into one Q row that counts them;
// memory stays bounded by -reduce-max-held, the rows due first written
// early.
func TestReduceDNS(t *testing.T) {
	for _, hash := range keyHashes {
		t.Run(hash.name, func(t *testing.T) { testReduceDNS(t, hash.keep) })
	}
}

func testReduceDNS(t *testing.T, keep uint32) {
	r, sp, root := newRecorder(t, func(c *Config) { c.Reduce.MaxTracked = 4 })
	setKeyHash(r, keep)
	ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.Local)
	cl, sv := netip.MustParseAddrPort("10.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.53:53")
	for i := range 30 {
		name := "a.example"
		if i%3 == 2 {
			name = fmt.Sprintf("n%d.example", i)
		}
		r.DNS(&audit.DNSQuery{Time: ts.Add(time.Duration(i) * time.Second), Client: cl, Server: sv, Name: name, QType: 1})
		if r.reduce.held.live > 4 {
			t.Fatalf("%d rows held, max 4", r.reduce.held.live)
		}
	}
	r.Close()
	sp.Close()
	sum := 0
	for _, row := range rows(t, root, 'Q') {
		n, _ := strconv.Atoi(row["repeat_count"])
		sum += n
		if row["query"] == "a.example" && n < 2 {
			t.Errorf("a.example row not folded: %v", row)
		}
	}
	if sum != 30 {
		t.Errorf("Q rows count %d queries, want 30", sum)
	}
}

// TestReduceConfigFile: every reduction rule is a flag, so a key of the
// config file, lists as YAML lists or comma-separated text.
func TestReduceConfigFile(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("aclog", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	path := filepath.Join(t.TempDir(), "aclog.yaml")
	yaml := "reduce-tables: U\nreduce-static-exts: [.PNG, js]\nreduce-static-types: image/*, text/css\nreduce-repeat: 30s\nreduce-max-held: 100\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := daemon.ApplyConfigFile(fs, path); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := cfg.Reduce
	if r.Tables != "U" || r.RepeatWindow != 30*time.Second || r.MaxTracked != 100 ||
		!slices.Equal(r.StaticExts, List{".PNG", "js"}) || !slices.Equal(r.StaticTypes, List{"image/*", "text/css"}) {
		t.Errorf("reduce config %+v", r)
	}
	red := newReducer(r)
	if !red.exts[".png"] || !red.exts[".js"] || red.folds('Q') || !red.folds('U') {
		t.Errorf("compiled rules %+v", red)
	}
	if err := fs.Set("reduce-tables", "A"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil {
		t.Error("-reduce-tables A accepted")
	}
}
