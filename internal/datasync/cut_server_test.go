package datasync_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/fileutil/cuttest"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/xbundle"
)

// answers are what a server told the branch: the files it answered
// complete (name -> sha256 the branch declared) and the windows whose
// commit it answered.
type answers struct {
	mu      sync.Mutex
	files   map[string]string
	windows []string
}

// cutServer serves a datasync server writing through fsys on a loopback
// listener. A server whose power is cut answers nothing more: a response
// is held until its handler returns and dropped (the connection broken)
// if the power went meanwhile. What it answered is noted in ans.
func cutServer(t testing.TB, root string, fsys fileutil.FS, ans *answers) (url string, stop func()) {
	t.Helper()
	srv, err := datasync.NewServer(datasync.ServerConfig{Root: root, Gateways: gateways(), IdleTimeout: 5 * time.Second,
		LoadInterval: time.Hour, Logger: testLogger(t), WindowPast: 20 * 365 * 24 * time.Hour, TLS: datasync.TLSFiles{Insecure: true}, FS: fsys}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dead := func() bool { return false }
	if c, ok := fsys.(*fileutil.CutFS); ok {
		dead = c.Dead
	}
	h := srv.Handler()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dead() {
			panic(http.ErrAbortHandler)
		}
		hw := &heldResponse{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(hw, r)
		if dead() {
			panic(http.ErrAbortHandler)
		}
		if ans != nil && hw.code == http.StatusOK {
			ans.note(r, hw.body.Bytes())
		}
		w.WriteHeader(hw.code)
		w.Write(hw.body.Bytes())
	})}
	go hs.Serve(ln)
	return "http://" + ln.Addr().String(), func() { hs.Close(); srv.Close() }
}

// heldResponse holds a response until the handler returns.
type heldResponse struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (h *heldResponse) WriteHeader(code int)        { h.code = code }
func (h *heldResponse) Write(p []byte) (int, error) { return h.body.Write(p) }

// Unwrap lets the handler's http.ResponseController set read deadlines.
func (h *heldResponse) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (a *answers) note(r *http.Request, body []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	path := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(path, "/v1/files/"):
		var st datasync.FileStatus
		if json.Unmarshal(body, &st) != nil || !st.Complete {
			return
		}
		sum := r.Header.Get(datasync.HeaderSha256)
		if r.Method == http.MethodGet {
			sum = r.URL.Query().Get("sha256")
		}
		a.files[st.Name] = sum
	case strings.HasPrefix(path, "/v1/windows/"):
		a.windows = append(a.windows, strings.TrimPrefix(path, "/v1/windows/"))
	}
}

// serverCuts pushes a branch to a server whose power is cut at a random
// operation, boots the server on what the cut left, and checks it holds
// everything it answered for; then the branch pushes again and the server
// must end with every file of the branch, byte for byte, once.
func serverCuts(t *testing.T, n int, seed uint64, skip func(string) bool) cuttest.Result {
	branchRoot := t.TempDir()
	att := branch(t, branchRoot, gwA, 3, 4, logfile.LZ4)
	want := branchFiles(t, branchRoot)
	bundles := bundleEntries(t, branchRoot)
	push := func(url string, retries int) error {
		cfg := clientConfig(t, branchRoot, gwA, url, nil)
		cfg.Retries, cfg.MinBackoff, cfg.MaxBackoff = retries, time.Millisecond, 5*time.Millisecond
		c, err := datasync.NewClient(cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.RunOnce(context.Background())
	}
	scenario := func(root string, fsys fileutil.FS) (*answers, error) {
		// The branch starts from nothing shipped, each time.
		os.RemoveAll(filepath.Join(branchRoot, "state"))
		ans := &answers{files: make(map[string]string)}
		url, stop := cutServer(t, root, fsys, ans)
		defer stop()
		err := push(url, 1)
		if c := fsys.(*fileutil.CutFS); c.Dead() {
			return ans, fmt.Errorf("push: %v: %w", err, fileutil.ErrCut)
		}
		return ans, err
	}
	return cuttest.Run(t, cuttest.Config{N: n, Seed: seed, Skip: skip}, scenario, func(c *cuttest.Cut[*answers]) {
		// What the server answered is there after the boot.
		for name, sum := range c.Acked.files {
			path := publishedPath(c.Root, name)
			if got := sha256File(path); got != sum {
				c.Fail("the server answered %s complete and after the cut it is %q, not sha256 %s", name, got, sum)
				continue
			}
			for _, e := range bundles[name] {
				day := name[:8]
				if b, err := os.ReadFile(filepath.Join(c.Root, "attachments", gwA, day, e)); err != nil || string(b) != string(att[e]) {
					c.Fail("the server answered %s complete and after the cut its attachment %s is gone or different (%d bytes, %v)", name, e[:12], len(b), err)
				}
			}
		}
		gws, _ := datasync.ReadServerState(c.Root)
		for _, w := range c.Acked.windows {
			if gws[gwA] == nil || gws[gwA].LastReceived < w {
				c.Fail("the server answered the commit of window %s and after the cut its state says %+v", w, gws[gwA])
			}
		}
		// The branch goes on, from the state it has: the server ends with
		// every file, as the branch has it.
		url, stop := cutServer(t, c.Root, fileutil.OS, nil)
		defer stop()
		if err := push(url, 3); err != nil {
			c.Fail("the push after the boot: %v", err)
			return
		}
		for name, sum := range want {
			if got := sha256File(publishedPath(c.Root, name)); got != sum {
				c.Fail("after the next push the server's %s has sha256 %q, the branch's %s", name, got, sum)
			}
		}
		for sum, content := range att {
			paths, _ := filepath.Glob(filepath.Join(c.Root, "attachments", gwA, "*", sum))
			if len(paths) != 1 {
				c.Fail("after the next push attachment %s is at %v", sum[:12], paths)
			} else if b, _ := os.ReadFile(paths[0]); string(b) != string(content) {
				c.Fail("after the next push attachment %s differs", sum[:12])
			}
		}
	})
}

// TestServerPowerCut cuts the power of the head-office server at random
// operations while a branch pushes: after the boot, every file it answered
// complete is there with the sha256 the branch declared (and an X bundle's
// attachments unpacked), every commit it answered is in its state; the
// branch's next push leaves the server with each of its files byte for
// byte. Then each of the server's fsyncs is dropped in turn and a cut must
// find it missing.
func TestServerPowerCut(t *testing.T) {
	res := serverCuts(t, 200, 1, nil)
	res.Report(t)
	cuttest.EveryFsyncNeeded(t, res.Sites, nil, func(skip func(string) bool) cuttest.Result {
		return serverCuts(t, 200, 2, skip)
	})
}

// branchFiles returns the sha256 of each file the branch ships (sync_files
// and config tables) by the name it is shipped under.
func branchFiles(t testing.TB, root string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	logfile.WalkSync(root, func(path string, n logfile.Name) error {
		out[n.String()] = sha256File(path)
		return nil
	})
	for _, name := range datasync.ConfigNames {
		if sum := sha256File(filepath.Join(root, "config", name)); sum != "" {
			out[name] = sum
		}
	}
	return out
}

// bundleEntries lists the contents of each X bundle of the branch.
func bundleEntries(t testing.TB, root string) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	logfile.WalkSync(root, func(path string, n logfile.Name) error {
		if n.Table != schema.Attachments {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, _ := f.Stat()
		r, err := xbundle.NewReader(f, fi.Size())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range r.Entries() {
			out[n.String()] = append(out[n.String()], e.Hex())
		}
		return nil
	})
	return out
}

// publishedPath is where the server publishes a shipped file.
func publishedPath(root, name string) string {
	if n, err := logfile.ParseName(name, time.Local); err == nil {
		return n.Path(root)
	}
	return filepath.Join(root, "config", gwA, name)
}

func sha256File(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
