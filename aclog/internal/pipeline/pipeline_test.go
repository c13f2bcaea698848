package pipeline_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/pipeline"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testenv"
)

const gw = "5F86F7A5"

// mixed is a 95 s Windows browsing capture; tshark counts 37 HTTP requests,
// 39 DNS queries, 40 TLS Client Hellos with SNI and 68 TCP + 40 UDP
// conversations (see testdata/pcaps/README.md).
const mixed = "../../testdata/pcaps/mixed/tls-subjectaltname_input.pcap"

func runFiles(t *testing.T, root string, mod func(*pipeline.Config), files ...string) *pipeline.Pipeline {
	t.Helper()
	var cfg pipeline.Config
	cfg.RegisterFlags(newFlagSet())
	cfg.Root, cfg.Gateway, cfg.Files = root, gw, files
	cfg.Logger = slog.New(slog.DiscardHandler)
	// Row counts are compared with tshark's: no log reduction unless the
	// test asks for it.
	cfg.Record.Reduce.Enabled = false
	if mod != nil {
		mod(&cfg)
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

// countRows counts the rows of the published sync_files per table letter;
// no .part file may be left.
func countRows(t *testing.T, root string) map[byte]int {
	t.Helper()
	out := map[byte]int{}
	err := logfile.WalkSync(root, func(path string, n logfile.Name) error {
		if n.Table == schema.Attachments {
			return nil // the attachment bundle, not rows
		}
		st, err := logfile.StatFile(path, logfile.LZ4)
		if err != nil || st.Err != nil {
			t.Fatalf("%s: %v %v", path, err, st.Err)
		}
		out[n.Table] += st.Rows
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if parts, _ := filepath.Glob(filepath.Join(root, "sync", "*", "*", "*.part")); len(parts) > 0 {
		t.Errorf("windows left open after the capture ended: %v", parts)
	}
	return out
}

func TestFilesToRows(t *testing.T) {
	for _, codec := range []logfile.Codec{logfile.LZ4, logfile.XZ} {
		t.Run(codec.String(), func(t *testing.T) {
			root := t.TempDir()
			p := runFiles(t, root, func(c *pipeline.Config) { c.Codec = codec }, mixed)
			got := countRows(t, root)
			want := map[byte]int{'A': 108, 'U': 37, 'Q': 39, 'S': 40}
			for l, n := range want {
				if got[l] != n {
					t.Errorf("%c rows: %d, want %d", l, got[l], n)
				}
			}
			if got['F'] == 0 || got['T'] == 0 {
				t.Errorf("no F or T rows: %v", got)
			}
			// Every row reached a load_file too, and packet time named the
			// windows: the capture is from 2022-03-17.
			loads, _ := filepath.Glob(filepath.Join(root, "load", "20220317_*.load"))
			loaded := map[byte]int{}
			for _, l := range loads {
				st, err := logfile.StatFile(l, logfile.Plain)
				if err != nil {
					t.Fatal(err)
				}
				ln, _ := logfile.ParseLoadName(filepath.Base(l), time.Local)
				loaded[ln.Sync.Table] += st.Rows
			}
			for _, tb := range schema.LogTables() {
				if loaded[tb.Letter] != got[tb.Letter] {
					t.Errorf("%c: %d rows in load_files, %d in sync_files", tb.Letter, loaded[tb.Letter], got[tb.Letter])
				}
			}
			if s := p.Snapshot(); s.Source.Packets != 3138 || s.RowErrors != 0 {
				t.Errorf("packets %d (want 3138), row errors %d", s.Source.Packets, s.RowErrors)
			}
		})
	}
}

// TestReduction: with the log reduction on (the default), every U and Q
// row tshark counts is either written or counted as reduced.
func TestReduction(t *testing.T) {
	root := t.TempDir()
	p := runFiles(t, root, func(c *pipeline.Config) { c.Record.Reduce.Enabled = true }, mixed)
	got := countRows(t, root)
	red := p.Snapshot().Record.Reduced
	if red["static"] == 0 || got['U']+int(red["static"]+red["repeat-U"]) != 37 || got['Q']+int(red["repeat-Q"]) != 39 {
		t.Errorf("U %d Q %d rows, reduced %v; want 37 and 39 in all", got['U'], got['Q'], red)
	}
	if got['A'] != 108 {
		t.Errorf("A rows %d: reduction must not touch sessions", got['A'])
	}
}

func TestHighPerformance(t *testing.T) {
	root := t.TempDir()
	runFiles(t, root, func(c *pipeline.Config) { c.HighPerformance = true }, mixed)
	if got := countRows(t, root); got['U'] != 37 {
		t.Errorf("U rows %d, want 37", got['U'])
	}
	if loads, _ := filepath.Glob(filepath.Join(root, "load", "*")); len(loads) != 0 {
		t.Errorf("high-performance mode wrote load_files: %v", loads)
	}
}

// TestBadFiles: a truncated capture keeps every packet before the cut, a
// garbage file is skipped, and the run goes on to the next file.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(mixed)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, data[:len(data)/2+7], 0o644)
	junk := filepath.Join(dir, "junk.pcap")
	os.WriteFile(junk, []byte("this is not a capture file, just text\n"), 0o644)
	alone := t.TempDir()
	runFiles(t, alone, nil, cut)
	fromCut := countRows(t, alone)['U']
	if fromCut == 0 || fromCut >= 37 {
		t.Fatalf("the first half alone gave %d U rows; want some of the 37", fromCut)
	}
	root := t.TempDir()
	p := runFiles(t, root, nil, cut, junk, "../../testdata/pcaps/http/get.pcap")
	s := p.Snapshot()
	if s.Truncated != 1 || s.BadFiles != 1 {
		t.Errorf("truncated %d, bad %d; want 1 and 1", s.Truncated, s.BadFiles)
	}
	if got := countRows(t, root)['U']; got != fromCut+1 {
		t.Errorf("U rows %d, want %d from the cut file and 1 from get.pcap", got, fromCut+1)
	}
}

// TestLive captures on the loopback interface while a real HTTP client
// talks to a real server, then stops as SIGTERM would, and finds every
// request.
func TestLive(t *testing.T) {
	testenv.Root(t, "live capture")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	root := t.TempDir()
	var cfg pipeline.Config
	cfg.RegisterFlags(newFlagSet())
	cfg.Root, cfg.Gateway, cfg.Iface = root, gw, "lo"
	cfg.Filter = fmt.Sprintf("tcp port %d", port)
	cfg.LoadInterval = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Record.Reduce.Enabled = false // 20 identical-but-for-path POSTs are not folded anyway
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	time.Sleep(500 * time.Millisecond) // the capture is open
	const requests = 20
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: false}}
	for i := 0; i < requests; i++ {
		resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/r%d", port, i), "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	cancel() // what SIGTERM does
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := countRows(t, root)
	if got['U'] != requests {
		t.Errorf("U rows %d, want %d", got['U'], requests)
	}
	if got['A'] != 1 {
		t.Errorf("A rows %d, want 1 keep-alive session: %v", got['A'], rowSet(t, root))
	}
}

func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("test", flag.ContinueOnError) }
