package datasync_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/fileutil/cuttest"
	"github.com/acstore/acstore/internal/logfile"
)

// shippedLog notes the windows whose "window shipped" line the client
// logged: it logs it once the state recording the window is saved.
type shippedLog struct {
	mu      sync.Mutex
	windows []string
}

func (h *shippedLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *shippedLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *shippedLog) WithGroup(string) slog.Handler            { return h }

func (h *shippedLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "window shipped" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "window" {
			h.mu.Lock()
			h.windows = append(h.windows, a.Value.String())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

// pushRun is a branch's push under a cut: the server it pushes to (not
// cut), and the windows whose state save returned.
type pushRun struct {
	hoRoot string
	url    string
	stop   func()
	saved  []string
}

// clientCuts cuts the power of the branch at random operations while it
// pushes (its writes: the config snapshots, the state, and with xz the
// recompressed files), boots it, and checks its state and the next push.
func clientCuts(t *testing.T, n int, seed uint64, codec logfile.Codec, skip func(string) bool) (cuttest.Result, int) {
	tmpl := t.TempDir()
	branch(t, tmpl, gwA, 5, 4, logfile.LZ4)
	files := branchFiles(t, tmpl)
	var dedup int
	push := func(root string, fsys fileutil.FS, url string, log slog.Handler, retries int) error {
		cfg := clientConfig(t, root, gwA, url, nil)
		cfg.Codec, cfg.FS = codec, fsys
		cfg.Retries, cfg.MinBackoff, cfg.MaxBackoff = retries, time.Millisecond, 5*time.Millisecond
		if log != nil {
			cfg.Logger = slog.New(log)
		}
		c, err := datasync.NewClient(cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.RunOnce(context.Background())
	}
	scenario := func(root string, fsys fileutil.FS) (*pushRun, error) {
		ho := root + "-ho"
		os.RemoveAll(ho)
		run := &pushRun{hoRoot: ho}
		run.url, run.stop = cutServer(t, ho, fileutil.OS, nil)
		log := &shippedLog{}
		err := push(root, fsys, run.url, log, 1)
		run.saved = log.windows
		if fsys.(*fileutil.CutFS).Dead() {
			return run, fmt.Errorf("push: %v: %w", err, fileutil.ErrCut)
		}
		if err != nil {
			run.stop()
		}
		return run, err
	}
	cfg := cuttest.Config{N: n, Seed: seed, Skip: skip, Setup: func(root string) error {
		return os.CopyFS(root, os.DirFS(tmpl))
	}}
	res := cuttest.Run(t, cfg, scenario, func(c *cuttest.Cut[*pushRun]) {
		run := c.Acked
		defer os.RemoveAll(run.hoRoot)
		defer run.stop()
		// The state a boot finds: readable, and as far as every save
		// that returned.
		st, _, err := datasync.ReadClientState(c.Root, gwA)
		if err != nil {
			c.Fail("the client state after the cut: %v", err)
			return
		}
		for _, w := range run.saved {
			if st.Watermark < w {
				c.Fail("window %s was saved shipped and after the cut the watermark is %q", w, st.Watermark)
			}
		}
		for name := range st.Shipped {
			if !sameShipped(c.Root, run.hoRoot, name) {
				c.Fail("the state after the cut says %s shipped and the server does not have its rows", name)
			}
		}
		before := publishedFiles(run.hoRoot)
		if err := push(c.Root, fileutil.OS, run.url, nil, 3); err != nil {
			c.Fail("the push after the boot: %v", err)
			return
		}
		// Every file at head office once: a file the server had is not
		// replaced (it would be loaded again), whatever was shipped again.
		for name := range files {
			if !sameShipped(c.Root, run.hoRoot, name) {
				c.Fail("after the next push the server's %s does not hold the branch's rows", name)
			}
		}
		after := publishedFiles(run.hoRoot)
		for path, mtime := range before {
			if !after[path].Equal(mtime) {
				c.Fail("the next push replaced %s, which the server had", filepath.Base(path))
			}
		}
		if len(after) != len(files) {
			c.Fail("head office has %d files, the branch %d", len(after), len(files))
		}
		if len(before) > 0 {
			dedup++
		}
	})
	return res, dedup
}

// TestClientPowerCut cuts the power of a branch at random operations of
// its push: its state must read at boot (not set aside as corrupt) with a
// watermark at least that of every save that returned, claim no file the
// server lacks, and the next push must leave every file at head office
// once with the branch's rows, whatever was shipped again.
//
// With xz the files are recompressed before they are shipped: a re-ship
// must recompress to the same bytes or the server would replace the file.
// Fewer cuts there (xz is slow); the recompression has its own cut test.
func TestClientPowerCut(t *testing.T) {
	for _, run := range []struct {
		codec logfile.Codec
		n     int
	}{{logfile.LZ4, 200}, {logfile.XZ, 30}} {
		res, dedup := clientCuts(t, run.n, 1, run.codec, nil)
		t.Logf("%v:", run.codec)
		res.Report(t)
		t.Logf("%v: %d cuts came after files had reached the server; the next push found them there", run.codec, dedup)
		if run.codec == logfile.LZ4 {
			cuttest.EveryFsyncNeeded(t, res.Sites, nil, func(skip func(string) bool) cuttest.Result {
				res, _ := clientCuts(t, 200, 2, run.codec, skip)
				return res
			})
		}
	}
}

// sameRows reports whether two sync_files (either codec) hold the same
// rows in the same order.
func sameRows(a, b string) bool {
	ra, errA := readRows(a)
	rb, errB := readRows(b)
	return errA == nil && errB == nil && string(ra) == string(rb)
}

func readRows(path string) ([]byte, error) {
	rs, err := logfile.OpenRows(path, logfile.LZ4)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	b, err := io.ReadAll(rs)
	if err == nil {
		err = rs.Err()
	}
	return b, err
}

// sameShipped reports whether head office holds a shipped file as the
// branch has it: the same rows for a sync_file (recompressed to xz), the
// same bytes for an X bundle or a config table.
func sameShipped(branchRoot, hoRoot, name string) bool {
	a := filepath.Join(branchRoot, "config", name)
	if n, err := logfile.ParseName(name, time.Local); err == nil {
		a = n.Path(branchRoot)
	}
	b := publishedPath(hoRoot, name)
	if s := sha256File(a); s != "" && s == sha256File(b) {
		return true
	}
	return sameRows(a, b)
}

// publishedFiles lists what a server published (sync_files and config
// tables) with their modification times.
func publishedFiles(hoRoot string) map[string]time.Time {
	out := make(map[string]time.Time)
	paths, _ := filepath.Glob(filepath.Join(hoRoot, "config", gwA, "*.tsv"))
	logfile.WalkSync(hoRoot, func(path string, _ logfile.Name) error { paths = append(paths, path); return nil })
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			out[p] = fi.ModTime()
		}
	}
	return out
}
