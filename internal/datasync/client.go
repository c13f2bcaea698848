package datasync

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/acstore/acstore/internal/backoff"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// ClientConfig configures a branch's push.
type ClientConfig struct {
	Root       string
	Server     string // https://host:port
	Gateway    string
	SecretFile string
	Secret     string // read from SecretFile when empty
	TLS        TLSFiles
	Codec      logfile.Codec
	BWLimit    Rate
	Interval   time.Duration // between passes of push without -once
	Parallel   int           // files of a window on the wire at once
	Retries    int           // attempts per request before a pass gives up
	MinBackoff time.Duration
	MaxBackoff time.Duration
	Idle       time.Duration // a connection silent this long is dropped
	Recheck    time.Duration // how far back published files are watched for late rows
	FrameSize  int           // data bytes per frame; FrameSize when 0
	HTTP2      bool          // use HTTP/2 when the server offers it
	Logger     *slog.Logger
}

// RegisterFlags adds push's flags to fs.
func (c *ClientConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Server, "server", "", "head-office server URL, e.g. https://ho.example.com:8443")
	fs.StringVar(&c.Gateway, "gateway", "", "this appliance's gateway id, 8 hex digits")
	fs.StringVar(&c.SecretFile, "secret-file", "", "file holding this gateway's secret (as in the server's -gateways file)")
	c.TLS.RegisterFlags(fs, "client")
	fs.Var(&c.Codec, "compress", "compression on the wire: lz4 (fast) or xz (about twice smaller, slower: thin links)")
	fs.Var(&c.BWLimit, "bwlimit", "most bandwidth to use, e.g. 2MB/s or 10Mbit/s; 0: unlimited")
	fs.DurationVar(&c.Interval, "interval", 10*time.Second, "how often to look for windows to ship")
	fs.IntVar(&c.Parallel, "parallel", 1, "files of a window sent at once; 1 keeps the strict A-U-P-M-C-O-I-S-F-Q-T order on the wire (thin links), more uses fast links better")
	fs.IntVar(&c.Retries, "retries", 12, "attempts per file before a pass gives up (the daemon then starts a new pass after a backoff)")
	fs.DurationVar(&c.MinBackoff, "min-backoff", time.Second, "first wait before a retry; doubled each time, with jitter")
	fs.DurationVar(&c.MaxBackoff, "max-backoff", 5*time.Minute, "longest wait between retries")
	fs.DurationVar(&c.Idle, "idle-timeout", time.Minute, "drop a connection that makes no progress for this long")
	fs.BoolVar(&c.HTTP2, "http2", false, "use HTTP/2 when the server offers it (HTTP/1.1, the default, moves big uploads faster)")
	fs.DurationVar(&c.Recheck, "recheck", time.Hour, "re-ship a file published this long before the last shipped window if it grew (late rows)")
}

// Validate checks the settings and reads the secret.
func (c *ClientConfig) Validate() error {
	if c.Root == "" {
		return errors.New("no -data directory")
	}
	if !logfile.ValidGateway(c.Gateway) {
		return fmt.Errorf("-gateway %q: want 8 upper-case hex digits, e.g. 5F86F7A5", c.Gateway)
	}
	u, err := url.Parse(c.Server)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("-server %q: want https://host:port", c.Server)
	}
	if u.Scheme == "http" && !c.TLS.Insecure {
		return fmt.Errorf("-server %q is plaintext http: use https, or -insecure to mean it", c.Server)
	}
	if u.Scheme == "https" && c.TLS.Insecure {
		return fmt.Errorf("-insecure is plaintext: use an http:// -server URL with it")
	}
	if c.Secret == "" {
		if c.SecretFile == "" {
			return errors.New("push needs -secret-file")
		}
		if c.Secret, err = ReadSecret(c.SecretFile); err != nil {
			return err
		}
	}
	if c.Codec != logfile.LZ4 && c.Codec != logfile.XZ {
		return fmt.Errorf("-compress %v: want lz4 or xz", c.Codec)
	}
	if c.Parallel <= 0 {
		c.Parallel = 1
	}
	if c.Interval <= 0 {
		c.Interval = 10 * time.Second
	}
	if c.Retries <= 0 {
		c.Retries = 12
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(c.MinBackoff, 5*time.Minute)
	}
	if c.Idle <= 0 {
		c.Idle = time.Minute
	}
	if c.Recheck < 0 {
		c.Recheck = 0
	}
	if c.FrameSize <= 0 || c.FrameSize > MaxFrame {
		c.FrameSize = FrameSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// ClientStats are the client's counters.
type ClientStats struct {
	Files, Skipped, Windows, Configs, Bytes, WireBytes, Retries, Errors atomic.Uint64
	Backlog                                                             atomic.Int64
	LastSuccess                                                         atomic.Int64 // unix seconds
}

// Client ships a branch's sync_files.
type Client struct {
	cfg   ClientConfig
	http  *http.Client
	base  string
	lim   *limiter
	log   *slog.Logger
	stats ClientStats
	st    *ClientState
	// needProgress: the state is new or was rebuilt, so ask the server how
	// far it got before shipping.
	needProgress bool

	mu   sync.Mutex
	sums map[string]fileSum // wire file -> sha256
}

type fileSum struct {
	size  int64
	mtime time.Time
	sum   string
}

// NewClient returns a client. A corrupt state file is set aside; the state
// is then rebuilt by asking the server.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tcfg, err := cfg.TLS.clientTLS()
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, timeout: cfg.Idle}, nil
		},
		TLSClientConfig:       tcfg,
		ForceAttemptHTTP2:     cfg.HTTP2,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * cfg.Idle,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       cfg.Idle,
		WriteBufferSize:       FrameSize + frameHeader,
		ReadBufferSize:        64 << 10,
	}
	c := &Client{cfg: cfg, http: &http.Client{Transport: tr}, base: strings.TrimSuffix(cfg.Server, "/"),
		lim: newLimiter(int64(cfg.BWLimit)), log: cfg.Logger, sums: make(map[string]fileSum)}
	st, fresh, err := ReadClientState(cfg.Root, cfg.Gateway)
	if errors.Is(err, errCorruptState) {
		aside, aerr := setAsideState(cfg.Root)
		if aerr != nil {
			return nil, fmt.Errorf("%v; and setting it aside failed: %w", err, aerr)
		}
		c.log.Error("client state is corrupt; set aside, rebuilding it from the server", "moved_to", aside, "err", err)
		st, fresh = newState(cfg.Gateway), true
	} else if err != nil {
		return nil, err
	}
	c.st, c.needProgress = st, fresh
	return c, nil
}

// Stats returns the client's counters.
func (c *Client) Stats() *ClientStats { return &c.stats }

// State returns a copy of the state's watermark, for tests and status.
func (c *Client) Watermark() string { return c.st.Watermark }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Run ships windows until ctx ends, a pass every Interval, with backoff
// after a failed pass.
func (c *Client) Run(ctx context.Context) error {
	backoff.Loop(ctx, c.cfg.Interval, c.cfg.MaxBackoff, c.RunOnce, func(err error, wait time.Duration) {
		c.log.Warn("push pass failed; files stay and are shipped later", "err", err, "retry_in", wait.Round(time.Millisecond))
	})
	return nil
}

// RunOnce ships every window that is ready, oldest first, and returns nil
// when nothing ready is left.
func (c *Client) RunOnce(ctx context.Context) error {
	err := c.runOnce(ctx)
	if err != nil {
		c.stats.Errors.Add(1)
		c.st.LastError, c.st.LastErrorAt = err.Error(), time.Now()
	} else {
		c.st.LastSuccess = time.Now()
		c.stats.LastSuccess.Store(c.st.LastSuccess.Unix())
	}
	if serr := c.st.save(c.cfg.Root); serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}

func (c *Client) runOnce(ctx context.Context) error {
	if c.needProgress {
		p, err := c.progress(ctx)
		if err != nil {
			return fmt.Errorf("ask the server what it has: %w", err)
		}
		if p.LastWindow > c.st.Watermark {
			c.log.Info("state rebuilt from the server", "watermark", p.LastWindow)
			c.st.Watermark = p.LastWindow
		}
		c.st.ConfigMD5 = p.ConfigMD5
		if c.st.ConfigMD5 == nil {
			c.st.ConfigMD5 = make(map[string]string)
		}
		c.needProgress = false
	}
	wins, err := c.scan()
	if err != nil {
		return err
	}
	backlog := int64(0)
	for _, w := range wins {
		if w.name > c.st.Watermark {
			backlog += int64(len(w.files))
		}
	}
	c.stats.Backlog.Store(backlog)
	configDone := false
	for _, w := range wins {
		if err := ctx.Err(); err != nil {
			return err
		}
		if w.name <= c.st.Watermark {
			if err := c.recheck(ctx, w); err != nil {
				return err
			}
			continue
		}
		if w.parts > 0 {
			c.log.Debug("window still open; later windows wait for it", "window", w.name, "open_files", w.parts)
			return nil
		}
		if !configDone {
			// Config tables go before the window's log rows, so the rows
			// are read with the users and groups they were named with.
			if err := c.shipConfig(ctx); err != nil {
				return err
			}
			configDone = true
		}
		if err := c.shipWindow(ctx, w); err != nil {
			return err
		}
		c.stats.Backlog.Add(-int64(len(w.files)))
	}
	if !configDone {
		return c.shipConfig(ctx)
	}
	return nil
}

// localFile is a published sync_file of the branch.
type localFile struct {
	name  logfile.Name
	path  string
	size  int64
	mtime time.Time
}

// window is the published files of one window, in shipping order, and how
// many of its files are still open (.part).
type window struct {
	name  string
	files []localFile
	parts int
}

// scan lists the windows from the recheck horizon on, oldest first.
func (c *Client) scan() ([]*window, error) {
	horizon := c.horizon()
	dir := filepath.Join(c.cfg.Root, "sync", c.cfg.Gateway)
	days, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	byName := make(map[string]*window)
	for _, d := range days {
		if !d.IsDir() || len(d.Name()) != 8 || (horizon != "" && d.Name() < horizon[:8]) {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(dir, d.Name()))
		if err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		for _, e := range entries {
			base := e.Name()
			part := strings.HasSuffix(base, logfile.PartExt)
			if !part && !strings.HasSuffix(base, logfile.SyncExt) {
				continue
			}
			n, err := logfile.ParseName(base, time.Local)
			if err != nil || n.Gateway != c.cfg.Gateway {
				continue
			}
			wn := windowName(n.Window)
			if wn < horizon {
				continue
			}
			w := byName[wn]
			if w == nil {
				w = &window{name: wn}
				byName[wn] = w
			}
			if part {
				w.parts++
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // gone meanwhile: rescanned next pass
			}
			w.files = append(w.files, localFile{name: n, path: filepath.Join(dir, d.Name(), base), size: fi.Size(), mtime: fi.ModTime()})
		}
	}
	wins := make([]*window, 0, len(byName))
	for _, w := range byName {
		sort.Slice(w.files, func(i, j int) bool {
			return shipRank(w.files[i].name.Table) < shipRank(w.files[j].name.Table)
		})
		wins = append(wins, w)
	}
	sort.Slice(wins, func(i, j int) bool { return wins[i].name < wins[j].name })
	return wins, nil
}

// horizon is the oldest window scanned: the recheck period before the
// watermark.
func (c *Client) horizon() string {
	if c.st.Watermark == "" {
		return ""
	}
	w, err := time.ParseInLocation(WindowLayout, c.st.Watermark, time.Local)
	if err != nil {
		return ""
	}
	return windowName(w.Add(-c.cfg.Recheck))
}

// recheck re-ships the files of an already committed window that grew
// since (late rows) or that the state does not list.
func (c *Client) recheck(ctx context.Context, w *window) error {
	var changed []localFile
	for _, f := range w.files {
		if size, ok := c.st.Shipped[f.name.String()]; !ok || size != f.size {
			changed = append(changed, f)
		}
	}
	if len(changed) == 0 || w.parts > 0 {
		return nil
	}
	c.log.Info("re-shipping files of a shipped window that changed", "window", w.name, "files", len(changed))
	return c.shipWindow(ctx, w)
}

// shipWindow sends a window's files in order, then commits the window.
func (c *Client) shipWindow(ctx context.Context, w *window) error {
	var commit Commit
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := c.prepareAhead(pctx, w.files)
	// Files start in shipping order; with -parallel above 1, up to that
	// many are on the wire at once (the window is loaded only after its
	// commit, so this changes no result, only which bytes a cut loses).
	commit.Files = make([]WindowFile, len(w.files))
	errs := make([]error, len(w.files))
	slots := make(chan struct{}, c.cfg.Parallel)
	var wg sync.WaitGroup
	for i, f := range w.files {
		p := <-ready
		if p.err != nil {
			errs[i] = fmt.Errorf("%s: %w", f.name, p.err)
			break
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			commit.Files[i], errs[i] = c.shipFile(ctx, f, p.wf)
			<-slots
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("window %s: %w", w.name, err)
	}
	body, _ := json.Marshal(commit)
	if err := c.retry(ctx, "commit "+w.name, func() error {
		_, err := c.do(ctx, http.MethodPost, "/v1/windows/"+w.name, nil, bytes.NewReader(body), int64(len(body)), nil)
		return err
	}); err != nil {
		return fmt.Errorf("window %s: %w", w.name, err)
	}
	for _, f := range w.files {
		c.st.Shipped[f.name.String()] = f.size
		letter := string(f.name.Table)
		if w.name > c.st.LastShipped[letter] {
			c.st.LastShipped[letter] = w.name
		}
	}
	if w.name > c.st.Watermark {
		c.st.Watermark = w.name
	}
	c.st.prune(c.horizon())
	c.stats.Windows.Add(1)
	c.removeOutgoing(w)
	if err := c.st.save(c.cfg.Root); err != nil {
		return err
	}
	c.log.Debug("window shipped", "window", w.name, "files", len(w.files))
	return nil
}

// wireFile is what goes on the wire for a file: the file itself, or its
// recompression.
type wireFile struct {
	path string
	size int64
	sum  string
}

type prepared struct {
	wf  wireFile
	err error
}

// prepareAhead prepares (hashes, and recompresses for xz) the files of a
// window in order, one file ahead of the upload: the next file is hashed
// while this one is on the wire. The files still go one at a time, in
// shipping order.
func (c *Client) prepareAhead(ctx context.Context, files []localFile) <-chan prepared {
	ch := make(chan prepared, 1)
	go func() {
		defer close(ch)
		for _, f := range files {
			wf, err := c.prepare(f)
			select {
			case ch <- prepared{wf, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// shipFile sends one prepared file unless the server has it already.
func (c *Client) shipFile(ctx context.Context, f localFile, wf wireFile) (WindowFile, error) {
	name := f.name.String()
	sent := false
	err := c.retry(ctx, name, func() error {
		var err error
		sent, err = c.sendFile(ctx, name, wf)
		return err
	})
	if err != nil {
		return WindowFile{}, fmt.Errorf("%s: %w", name, err)
	}
	if sent {
		c.stats.Files.Add(1)
		c.stats.Bytes.Add(uint64(f.size))
	} else {
		c.stats.Skipped.Add(1)
	}
	return WindowFile{Name: name, Size: wf.size, Sha256: wf.sum}, nil
}

// retry runs fn until it succeeds, fails for good, or Retries attempts
// were made, waiting with backoff and jitter in between.
func (c *Client) retry(ctx context.Context, what string, fn func() error) error {
	var err error
	for attempt := 0; attempt < c.cfg.Retries; attempt++ {
		if err = fn(); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var se *StatusError
		if errors.As(err, &se) && !se.Retryable() {
			return err
		}
		c.stats.Retries.Add(1)
		wait := backoff.Wait(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
		if errors.As(err, &se) && (se.Status == http.StatusUnprocessableEntity || se.Status == http.StatusRequestedRangeNotSatisfiable) {
			wait = 0 // a bad frame or a moved offset: resend at once from where the server is
		}
		c.log.Warn("transfer failed; retrying", "what", what, "attempt", attempt+1, "err", err, "retry_in", wait.Round(time.Millisecond))
		if err := backoff.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", c.cfg.Retries, err)
}

// sendFile asks the server where it is with the file and sends the rest.
// It reports whether any bytes had to be sent.
func (c *Client) sendFile(ctx context.Context, name string, wf wireFile) (bool, error) {
	q := "?size=" + strconv.FormatInt(wf.size, 10) + "&sha256=" + wf.sum
	var st FileStatus
	if _, err := c.do(ctx, http.MethodGet, "/v1/files/"+url.PathEscape(name)+q, nil, nil, 0, &st); err != nil {
		return false, err
	}
	if st.Complete {
		return false, nil
	}
	f, err := os.Open(wf.path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	body := &frameReader{ctx: ctx, r: f, off: st.Offset, size: wf.size, frame: int64(c.cfg.FrameSize), lim: c.lim, wire: &c.stats.WireBytes}
	hdr := http.Header{}
	hdr.Set(HeaderOffset, strconv.FormatInt(st.Offset, 10))
	hdr.Set(HeaderSize, strconv.FormatInt(wf.size, 10))
	hdr.Set(HeaderSha256, wf.sum)
	var res FileStatus
	if _, err := c.do(ctx, http.MethodPut, "/v1/files/"+url.PathEscape(name), hdr, body, framedLen(wf.size-st.Offset, int64(c.cfg.FrameSize)), &res); err != nil {
		return true, err
	}
	if !res.Complete {
		return true, fmt.Errorf("server did not complete %s", name)
	}
	return true, nil
}

// StatusError is an error response of the server.
type StatusError struct {
	Status int
	Body   ErrorBody
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("server: %d %s: %s", e.Status, http.StatusText(e.Status), e.Body.Error)
}

// Retryable reports whether trying again may succeed: the server is busy,
// full, or the transfer went wrong on the way; not a request it refuses.
func (e *StatusError) Retryable() bool {
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusRequestedRangeNotSatisfiable,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests:
		return true
	}
	return e.Status >= 500
}

// do sends one request and decodes its JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body io.Reader, n int64, out any) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = n
		if n == 0 {
			req.Body = http.NoBody
		}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set(HeaderGateway, c.cfg.Gateway)
	req.Header.Set("Authorization", "Bearer "+c.cfg.Secret)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp, err
	}
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{Status: resp.StatusCode}
		if json.Unmarshal(data, &se.Body) != nil {
			se.Body.Error = strings.TrimSpace(string(data))
		}
		return resp, se
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("server answer: %w", err)
		}
	}
	return resp, nil
}

func (c *Client) progress(ctx context.Context) (Progress, error) {
	var p Progress
	err := c.retry(ctx, "progress", func() error {
		_, err := c.do(ctx, http.MethodGet, "/v1/progress", nil, nil, 0, &p)
		return err
	})
	return p, err
}

// frameReader is an upload body: the file from off as frames, paced by the
// bandwidth limit.
type frameReader struct {
	ctx       context.Context
	r         io.ReaderAt
	off, size int64
	frame     int64
	lim       *limiter
	wire      *atomic.Uint64
	buf       []byte
	pending   []byte
}

func (b *frameReader) Read(p []byte) (int, error) {
	if len(b.pending) == 0 {
		if b.off >= b.size {
			return 0, io.EOF
		}
		n := min(b.frame, b.size-b.off)
		if int64(cap(b.buf)) < b.frame+frameHeader {
			b.buf = make([]byte, b.frame+frameHeader)
		}
		// Read the data straight into place behind the frame header.
		data := b.buf[frameHeader : frameHeader+n]
		if _, err := b.r.ReadAt(data, b.off); err != nil {
			return 0, err
		}
		b.pending = frameAround(b.buf[:frameHeader+n])
		b.off += n
		if err := b.lim.wait(b.ctx, len(b.pending)); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	b.wire.Add(uint64(n))
	return n, nil
}

// prepare returns the bytes to send for f: the file as stored when it has
// the wire codec already, else its rows recompressed to xz in the outgoing
// directory (kept until the window is committed, so a resumed upload sends
// the same bytes).
func (c *Client) prepare(f localFile) (wireFile, error) {
	path := f.path
	if c.cfg.Codec == logfile.XZ && f.name.Table != schema.Attachments && f.size > 0 {
		codec, err := sniffFile(f.path)
		if err != nil {
			return wireFile{}, err
		}
		if codec == logfile.LZ4 {
			if path, err = c.recompress(f); err != nil {
				return wireFile{}, err
			}
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return wireFile{}, err
	}
	sum, err := c.sha256(path, fi)
	if err != nil {
		return wireFile{}, err
	}
	return wireFile{path: path, size: fi.Size(), sum: sum}, nil
}

func (c *Client) sha256(path string, fi os.FileInfo) (string, error) {
	c.mu.Lock()
	s, ok := c.sums[path]
	c.mu.Unlock()
	if ok && s.size == fi.Size() && s.mtime.Equal(fi.ModTime()) {
		return s.sum, nil
	}
	sum, err := fileSha256(path)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if len(c.sums) > 10_000 {
		clear(c.sums)
	}
	c.sums[path] = fileSum{fi.Size(), fi.ModTime(), sum}
	c.mu.Unlock()
	return sum, nil
}

func sniffFile(path string) (logfile.Codec, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var head [6]byte
	n, _ := io.ReadFull(f, head[:])
	if c, ok := logfile.Sniff(head[:n]); ok {
		return c, nil
	}
	return 0, fmt.Errorf("%s: not a sync_file (unknown magic % x)", path, head[:n])
}

func (c *Client) outgoingDir() string {
	return filepath.Join(c.cfg.Root, "state", "datasync", "outgoing")
}

// recompress writes the rows of an LZ4 sync_file as one xz stream, with
// the block settings aclog uses for xz files.
func (c *Client) recompress(f localFile) (string, error) {
	dir := c.outgoingDir()
	out := filepath.Join(dir, fmt.Sprintf("%s.%d.xz", f.name.String(), f.size))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	rs, err := logfile.OpenRows(f.path, logfile.LZ4)
	if err != nil {
		return "", err
	}
	defer rs.Close()
	tmp, err := os.CreateTemp(dir, ".recompress-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	zw, err := xz.WriterConfig{BlockSize: 1 << 20, CheckSum: xz.CRC32}.NewWriter(bw)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(zw, rs); err != nil {
		return "", fmt.Errorf("recompress %s: %w", f.name, err)
	}
	if rs.Err() != nil {
		c.log.Warn("sync_file has a torn tail; shipping its complete rows", "file", f.name.String(), "err", rs.Err())
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

func (c *Client) removeOutgoing(w *window) {
	for _, f := range w.files {
		os.Remove(filepath.Join(c.outgoingDir(), fmt.Sprintf("%s.%d.xz", f.name.String(), f.size)))
	}
}

// configDir is where the branch keeps its config tables.
func configDir(root string) string { return filepath.Join(root, "config") }

// shipConfig sends each config table whose md5 differs from what the
// server has. A missing file is an empty table.
func (c *Client) shipConfig(ctx context.Context) error {
	for _, name := range ConfigNames {
		path := filepath.Join(configDir(c.cfg.Root), name)
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config %s: %w", name, err)
		}
		sum := md5.Sum(data)
		md := hex.EncodeToString(sum[:])
		if c.st.ConfigMD5[name] == md {
			continue
		}
		// Send a snapshot, so an edit while sending cannot tear it. It
		// needs no fsync: after a crash it is simply made again.
		snap := filepath.Join(c.outgoingDir(), name)
		if err := os.MkdirAll(c.outgoingDir(), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(snap, data, 0o644); err != nil {
			return fmt.Errorf("config %s: %w", name, err)
		}
		fi, err := os.Stat(snap)
		if err != nil {
			return err
		}
		sha, err := fileSha256(snap)
		if err != nil {
			return err
		}
		wf := wireFile{path: snap, size: fi.Size(), sum: sha}
		if err := c.retry(ctx, name, func() error { _, err := c.sendFile(ctx, name, wf); return err }); err != nil {
			return fmt.Errorf("config %s: %w", name, err)
		}
		// Saved with the next window's commit: a crash before it only
		// costs asking the server again, which answers "complete".
		c.st.ConfigMD5[name] = md
		c.stats.Configs.Add(1)
		c.log.Info("config table shipped", "table", strings.TrimSuffix(name, ".tsv"), "md5", md)
	}
	return nil
}
