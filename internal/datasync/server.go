package datasync

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"database/sql"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/xbundle"
)

// ServerConfig configures the head-office server.
type ServerConfig struct {
	Root         string
	Listen       string
	GatewaysFile string
	Gateways     map[string]string // GW -> secret; read from GatewaysFile when nil
	TLS          TLSFiles
	Quota        ByteSize // per gateway, on disk; 0: unlimited
	MaxFileSize  ByteSize
	IdleTimeout  time.Duration // the longest a client may stay silent
	LoadInterval time.Duration // load also this often, not only after commits
	Logger       *slog.Logger
}

// RegisterFlags adds serve's flags to fs.
func (c *ServerConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", ":8443", "address to listen on")
	fs.StringVar(&c.GatewaysFile, "gateways", "", "file of the allowed gateways, one `GW SECRET` a line")
	c.TLS.RegisterFlags(fs, "server")
	c.MaxFileSize = 2 << 30
	fs.Var(&c.Quota, "quota", "most bytes each gateway may store (e.g. 200GB); 0: unlimited")
	fs.Var(&c.MaxFileSize, "max-file-size", "largest file accepted (e.g. 2GiB)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", time.Minute, "drop a client silent for this long (slow or dead links)")
	fs.DurationVar(&c.LoadInterval, "load-interval", 30*time.Second, "also run the load this often, to retry after a failure")
}

// Validate checks the settings and reads the gateways file.
func (c *ServerConfig) Validate() error {
	if c.Root == "" {
		return errors.New("no -data directory")
	}
	if c.Gateways == nil {
		if c.GatewaysFile == "" {
			return errors.New("serve needs -gateways FILE (one `GW SECRET` a line)")
		}
		gws, err := ReadGateways(c.GatewaysFile)
		if err != nil {
			return err
		}
		c.Gateways = gws
	}
	if c.MaxFileSize <= 0 {
		c.MaxFileSize = 2 << 30
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = time.Minute
	}
	if c.LoadInterval <= 0 {
		c.LoadInterval = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// ServerStats are the server's counters.
type ServerStats struct {
	Uploads, Published, Resumed, Duplicates, Bytes atomic.Uint64
	Rejected, BadFrames, DiskFull, Windows         atomic.Uint64
	Loads, LoadErrors, Rows                        atomic.Uint64
	Active                                         atomic.Int64
}

// Server receives sync_files from branches.
type Server struct {
	cfg    ServerConfig
	db     *sql.DB
	loader *loader.Loader
	log    *slog.Logger
	state  *serverState
	stats  ServerStats
	loadCh chan struct{}
	loadMu sync.Mutex // serialises LoadOnce

	mu      sync.Mutex
	busy    map[string]bool          // gw/name being uploaded
	partial map[string]partialHash   // incoming path -> hash of its bytes so far
	sums    map[string]publishedHash // published path -> sha256
	used    map[string]int64         // gateway -> bytes on disk (quota)
}

type partialHash struct {
	offset int64
	state  []byte // sha256 state, encoding.BinaryMarshaler
}

type publishedHash struct {
	size  int64
	mtime time.Time
	sum   string
}

// NewServer returns a server. db may be nil: files are then received and
// stored but not loaded (another process can run loader -keep).
func NewServer(cfg ServerConfig, db *sql.DB) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := openServerState(filepath.Join(cfg.Root, "state", "datasync", "server.json"), cfg.Logger)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, db: db, log: cfg.Logger, state: st, loadCh: make(chan struct{}, 1),
		busy: make(map[string]bool), partial: make(map[string]partialHash),
		sums: make(map[string]publishedHash), used: make(map[string]int64)}
	if db != nil {
		if s.loader, err = loader.New(loader.Config{Root: cfg.Root, Keep: true, Logger: cfg.Logger}, db); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close releases the loader's ledger.
func (s *Server) Close() error {
	if s.loader != nil {
		return s.loader.Close()
	}
	return nil
}

// Stats returns the server's counters.
func (s *Server) Stats() *ServerStats { return &s.stats }

// Serve serves on ln (wrapping it in TLS unless -insecure) and runs the
// loads until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	tcfg, err := s.cfg.TLS.serverTLS()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: s.Handler(),
		// A client that does not finish its headers in time is a slow
		// loris; one that stays silent in a body is cut by the per-frame
		// deadline in upload.
		ReadHeaderTimeout: s.cfg.IdleTimeout,
		IdleTimeout:       2 * s.cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		TLSConfig:         tcfg,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if tcfg != nil {
		ln = tls.NewListener(ln, tcfg)
	}
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); s.loadLoop(ctx) }()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	s.log.Info("datasync server listening", "addr", ln.Addr().String(), "tls", tcfg != nil, "mutual_tls", tcfg != nil && tcfg.ClientCAs != nil, "gateways", len(s.cfg.Gateways))
	err = srv.Serve(ln)
	<-loadDone
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Run listens on cfg.Listen and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// httpError is an error with the status to answer it with.
type httpError struct {
	status int
	msg    string
	offset int64
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.status, e.msg) }

func fail(status int, format string, args ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request, gw string, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		he, ok := err.(*httpError)
		if !ok {
			he = &httpError{status: http.StatusInternalServerError, msg: err.Error()}
		}
		s.stats.Rejected.Add(1)
		s.log.Warn("request refused", "gw", gw, "method", r.Method, "path", r.URL.EscapedPath(), "status", he.status, "err", he.msg, "remote", r.RemoteAddr)
		w.WriteHeader(he.status)
		json.NewEncoder(w).Encode(ErrorBody{Error: he.msg, Offset: he.offset})
		return
	}
	json.NewEncoder(w).Encode(v)
}

// Handler returns the protocol's HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw, err := s.authenticate(r)
		if err != nil {
			s.reply(w, r, gw, nil, err)
			return
		}
		// The raw path: a cleaned one would turn ../ into a redirect.
		path := r.URL.EscapedPath()
		var v any
		switch {
		case r.Method == http.MethodGet && path == "/v1/progress":
			v, err = s.progress(gw)
		case strings.HasPrefix(path, "/v1/files/"):
			var name string
			if name, err = url1(path, "/v1/files/"); err != nil {
				break
			}
			switch r.Method {
			case http.MethodGet:
				v, err = s.fileStatus(r, gw, name)
			case http.MethodPut:
				v, err = s.upload(w, r, gw, name)
			default:
				err = fail(http.StatusMethodNotAllowed, "use GET or PUT on /v1/files/")
			}
		case r.Method == http.MethodPost && strings.HasPrefix(path, "/v1/windows/"):
			var win string
			if win, err = url1(path, "/v1/windows/"); err == nil {
				v, err = s.commit(r, gw, win)
			}
		default:
			err = fail(http.StatusNotFound, "no such endpoint %s %s", r.Method, path)
		}
		s.reply(w, r, gw, v, err)
	})
}

// url1 returns the one path segment after prefix, unescaped.
func url1(path, prefix string) (string, error) {
	raw := strings.TrimPrefix(path, prefix)
	name, err := urlUnescape(raw)
	if err != nil || name == "" {
		return "", fail(http.StatusBadRequest, "bad name %q", raw)
	}
	return name, nil
}

func urlUnescape(s string) (string, error) {
	// url.PathUnescape, inlined to keep %2F from becoming a separator
	// silently: a name with a slash is refused by parseTarget anyway.
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("bad escape")
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", errors.New("bad escape")
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// authenticate checks the gateway's secret and, with mutual TLS, that the
// client certificate names the gateway.
func (s *Server) authenticate(r *http.Request) (string, error) {
	gw := r.Header.Get(HeaderGateway)
	secret, known := s.cfg.Gateways[gw]
	if gw == "" || !known {
		return "", fail(http.StatusUnauthorized, "unknown gateway %q", gw)
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
		return gw, fail(http.StatusUnauthorized, "wrong secret for gateway %s", gw)
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if cn := r.TLS.PeerCertificates[0].Subject.CommonName; cn != gw {
			return gw, fail(http.StatusForbidden, "client certificate is for %q, not gateway %s", cn, gw)
		}
	}
	return gw, nil
}

// finalPath is where a target is published.
func (s *Server) finalPath(gw string, t target) string {
	if t.config {
		return filepath.Join(s.cfg.Root, "config", gw, t.name)
	}
	return t.sync.Path(s.cfg.Root)
}

func (s *Server) incomingPath(gw string, t target, size int64, sum string) string {
	// The size and hash in the name keep a re-sent file whose content
	// changed (late rows) from resuming on the old bytes.
	return filepath.Join(s.cfg.Root, "incoming", gw, fmt.Sprintf("%s.%s.%d.part", t.name, sum[:16], size))
}

func (s *Server) parseTarget(gw, name string) (target, error) {
	t, err := parseTarget(name, gw)
	if errors.Is(err, errForeign) {
		return t, fail(http.StatusForbidden, "gateway %s may not write %q: %v", gw, name, err)
	}
	if err != nil {
		return t, fail(http.StatusBadRequest, "%v", err)
	}
	return t, nil
}

// declared reads and checks the size and sha256 a request declares.
func (s *Server) declared(sizeStr, sum string) (int64, string, error) {
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if err != nil || size < 0 {
		return 0, "", fail(http.StatusBadRequest, "bad size %q", sizeStr)
	}
	if size > int64(s.cfg.MaxFileSize) {
		return 0, "", fail(http.StatusRequestEntityTooLarge, "file of %d bytes is over the %d byte limit", size, s.cfg.MaxFileSize)
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size || strings.ToLower(sum) != sum {
		return 0, "", fail(http.StatusBadRequest, "bad sha256 %q (want 64 lower-case hex digits)", sum)
	}
	return size, sum, nil
}

// publishedSum returns the sha256 of a published file, cached by size and
// modification time, or "" if it does not exist.
func (s *Server) publishedSum(path string) (string, int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	s.mu.Lock()
	c, ok := s.sums[path]
	s.mu.Unlock()
	if ok && c.size == fi.Size() && c.mtime.Equal(fi.ModTime()) {
		return c.sum, fi.Size(), nil
	}
	sum, err := fileSha256(path)
	if err != nil {
		return "", 0, err
	}
	s.mu.Lock()
	if len(s.sums) > 100_000 { // bound the cache; it refills on demand
		clear(s.sums)
	}
	s.sums[path] = publishedHash{fi.Size(), fi.ModTime(), sum}
	s.mu.Unlock()
	return sum, fi.Size(), nil
}

// rememberSum caches the sha256 of a file just published, which was
// checked while it arrived, so that the commit need not read it again.
func (s *Server) rememberSum(path, sum string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	s.mu.Lock()
	if len(s.sums) > 100_000 {
		clear(s.sums)
	}
	s.sums[path] = publishedHash{fi.Size(), fi.ModTime(), sum}
	s.mu.Unlock()
}

func fileSha256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *Server) fileStatus(r *http.Request, gw, name string) (any, error) {
	t, err := s.parseTarget(gw, name)
	if err != nil {
		return nil, err
	}
	size, sum, err := s.declared(r.URL.Query().Get("size"), r.URL.Query().Get("sha256"))
	if err != nil {
		return nil, err
	}
	have, haveSize, err := s.publishedSum(s.finalPath(gw, t))
	if err != nil {
		return nil, err
	}
	if have == sum && haveSize == size {
		return FileStatus{Name: name, Complete: true, Offset: size}, nil
	}
	fi, err := os.Stat(s.incomingPath(gw, t, size, sum))
	if err != nil {
		return FileStatus{Name: name}, nil
	}
	return FileStatus{Name: name, Offset: min(fi.Size(), size)}, nil
}

// lock marks gw/name as being uploaded; a second upload of the same file
// (a client retrying while its old connection is not yet dead) gets 409.
func (s *Server) lock(key string) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[key] {
		return nil, fail(http.StatusConflict, "%s is being uploaded by another connection; retry later", key)
	}
	s.busy[key] = true
	return func() {
		s.mu.Lock()
		delete(s.busy, key)
		s.mu.Unlock()
	}, nil
}

// usage returns the bytes a gateway stores, walking its directories the
// first time.
func (s *Server) usage(gw string) int64 {
	s.mu.Lock()
	n, ok := s.used[gw]
	s.mu.Unlock()
	if ok {
		return n
	}
	n = 0
	for _, d := range []string{filepath.Join(s.cfg.Root, "sync", gw), filepath.Join(s.cfg.Root, "attachments", gw),
		filepath.Join(s.cfg.Root, "incoming", gw)} {
		filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				if fi, err := e.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
	}
	s.mu.Lock()
	s.used[gw] = n
	s.mu.Unlock()
	return n
}

func (s *Server) addUsage(gw string, n int64) {
	s.usage(gw)
	s.mu.Lock()
	s.used[gw] += n
	s.mu.Unlock()
}

func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// upload receives frames from the offset the request names, appends them
// to the incoming file and publishes the file once it is whole and its
// sha256 checks out.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, gw, name string) (_ any, err error) {
	t, err := s.parseTarget(gw, name)
	if err != nil {
		return nil, err
	}
	size, sum, err := s.declared(r.Header.Get(HeaderSize), r.Header.Get(HeaderSha256))
	if err != nil {
		return nil, err
	}
	offset, err := strconv.ParseInt(r.Header.Get(HeaderOffset), 10, 64)
	if err != nil || offset < 0 || offset > size {
		return nil, fail(http.StatusBadRequest, "bad offset %q", r.Header.Get(HeaderOffset))
	}
	unlock, err := s.lock(gw + "/" + name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.stats.Uploads.Add(1)
	s.stats.Active.Add(1)
	defer s.stats.Active.Add(-1)

	final := s.finalPath(gw, t)
	have, haveSize, err := s.publishedSum(final)
	if err != nil {
		return nil, err
	}
	if have == sum && haveSize == size {
		s.stats.Duplicates.Add(1)
		io.Copy(io.Discard, io.LimitReader(r.Body, MaxFrame))
		return FileStatus{Name: name, Complete: true, Offset: size}, nil
	}
	if q := int64(s.cfg.Quota); q > 0 && s.usage(gw)+size-haveSize > q {
		return nil, fail(http.StatusInsufficientStorage, "quota of gateway %s exceeded: %d bytes stored, %d more would pass the %d byte quota", gw, s.usage(gw), size, q)
	}

	inc := s.incomingPath(gw, t, size, sum)
	if err := os.MkdirAll(filepath.Dir(inc), 0o755); err != nil {
		return nil, s.diskErr(err, 0)
	}
	f, err := os.OpenFile(inc, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, s.diskErr(err, 0)
	}
	defer f.Close()
	defer func() {
		// A refused upload that got nothing leaves no file behind.
		if err != nil {
			if fi, serr := os.Stat(inc); serr == nil && fi.Size() == 0 {
				os.Remove(inc)
			}
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() != offset {
		e := fail(http.StatusRequestedRangeNotSatisfiable, "have %d bytes of %s, not %d: resume from %d", fi.Size(), name, offset, fi.Size())
		e.offset = fi.Size()
		return nil, e
	}
	if offset > 0 {
		s.stats.Resumed.Add(1)
	}
	h, err := s.resumeHash(inc, f, offset)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}

	rc := http.NewResponseController(w)
	buf := make([]byte, FrameSize)
	for offset < size {
		// The deadline is renewed per frame: a client may be slow, but not
		// silent for longer than the idle timeout.
		rc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		data, err := readFrame(r.Body, buf, size-offset)
		if err != nil {
			s.savePartial(inc, offset, h)
			var fse *frameSizeError
			switch {
			case errors.As(err, &fse):
				e := fail(http.StatusRequestEntityTooLarge, "%s: %v", name, err)
				e.offset = offset
				return nil, e
			case errors.Is(err, errBadFrame):
				s.stats.BadFrames.Add(1)
				e := fail(http.StatusUnprocessableEntity, "%s: frame at byte %d: %v; re-send from %d", name, offset, err, offset)
				e.offset = offset
				return nil, e
			default:
				e := fail(http.StatusRequestTimeout, "%s: body ended at byte %d of %d: %v", name, offset, size, err)
				e.offset = offset
				return nil, e
			}
		}
		if _, err := f.Write(data); err != nil {
			// Cut what may have been written, so the file holds only
			// whole frames.
			f.Truncate(offset)
			s.savePartial(inc, offset, h)
			return nil, s.diskErr(err, offset)
		}
		h.Write(data)
		offset += int64(len(data))
		s.stats.Bytes.Add(uint64(len(data)))
		s.addUsage(gw, int64(len(data)))
		buf = data[:cap(data)]
	}
	s.savePartial(inc, offset, h)
	rc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
	if n, _ := io.ReadFull(r.Body, buf[:1]); n > 0 {
		f.Close()
		os.Remove(inc)
		s.forgetPartial(inc)
		s.addUsage(gw, -size)
		return nil, fail(http.StatusRequestEntityTooLarge, "%s: the body goes on after the %d bytes declared; nothing is kept", name, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		f.Close()
		os.Remove(inc)
		s.forgetPartial(inc)
		s.addUsage(gw, -size)
		return nil, fail(http.StatusUnprocessableEntity, "%s: sha256 of the whole file is %s, the client declared %s; the received bytes are discarded, send it again from 0", name, got, sum)
	}
	if err := f.Sync(); err != nil {
		return nil, s.diskErr(err, offset)
	}
	if err := f.Close(); err != nil {
		return nil, s.diskErr(err, offset)
	}
	if err := s.publish(gw, t, inc, final); err != nil {
		return nil, s.diskErr(err, offset)
	}
	s.rememberSum(final, sum)
	s.forgetPartial(inc)
	s.addUsage(gw, -haveSize)
	s.stats.Published.Add(1)
	s.log.Debug("received", "gw", gw, "file", name, "bytes", size)
	return FileStatus{Name: name, Complete: true, Offset: size}, nil
}

// publish unpacks an X bundle (before it is published, so that a failed
// unpack is retried by the client), then renames the file into place.
func (s *Server) publish(gw string, t target, inc, final string) error {
	if !t.config && t.sync.Table == schema.Attachments {
		dir := filepath.Join(s.cfg.Root, "attachments", gw, t.sync.Day())
		fi, err := os.Stat(inc)
		if err != nil {
			return err
		}
		if fi.Size() > 0 {
			n, err := xbundle.Unpack(inc, dir)
			var ce *xbundle.CorruptionError
			if errors.As(err, &ce) {
				// The branch's bundle was cut by a crash: its good entries
				// are what there is.
				s.log.Warn("attachment bundle is torn; its complete entries were unpacked", "gw", gw, "file", t.name, "err", err)
			} else if err != nil {
				return fmt.Errorf("unpack %s: %w", t.name, err)
			}
			s.addUsage(gw, 0)
			s.log.Debug("unpacked attachments", "gw", gw, "file", t.name, "new", n)
		}
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if err := logfile.RenameSync(inc, final); err != nil {
		return fmt.Errorf("publish %s: %w", t.name, err)
	}
	if t.config {
		s.notifyLoad()
	}
	return nil
}

func (s *Server) diskErr(err error, offset int64) error {
	if isDiskFull(err) {
		s.stats.DiskFull.Add(1)
		e := fail(http.StatusInsufficientStorage, "head office disk is full (%v); kept %d bytes, retry later", err, offset)
		e.offset = offset
		return e
	}
	return err
}

// resumeHash returns the sha256 of the first offset bytes of the incoming
// file: from memory when this server received them, else read again.
func (s *Server) resumeHash(path string, f *os.File, offset int64) (hash.Hash, error) {
	h := sha256.New()
	s.mu.Lock()
	p, ok := s.partial[path]
	s.mu.Unlock()
	if ok && p.offset == offset {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(p.state); err == nil {
			return h, nil
		}
		h.Reset()
	}
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, offset)); err != nil {
		return nil, fmt.Errorf("hash the received part of %s: %w", path, err)
	}
	return h, nil
}

func (s *Server) savePartial(path string, offset int64, h hash.Hash) {
	st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return
	}
	s.mu.Lock()
	if len(s.partial) > 10_000 {
		clear(s.partial)
	}
	s.partial[path] = partialHash{offset, st}
	s.mu.Unlock()
}

func (s *Server) forgetPartial(path string) {
	s.mu.Lock()
	delete(s.partial, path)
	s.mu.Unlock()
}

// commit records a window as received once each file the client lists is
// published with the size and sha256 it says.
func (s *Server) commit(r *http.Request, gw, win string) (any, error) {
	w, err := time.ParseInLocation(WindowLayout, win, time.Local)
	if err != nil || w.Minute()%5 != 0 || windowName(w) != win {
		return nil, fail(http.StatusBadRequest, "bad window %q (want YYYYMMDD_HHMM on a 5-minute boundary)", win)
	}
	var c Commit
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&c); err != nil {
		return nil, fail(http.StatusBadRequest, "commit body: %v", err)
	}
	for _, f := range c.Files {
		t, err := s.parseTarget(gw, f.Name)
		if err != nil {
			return nil, err
		}
		if t.config || !t.sync.Window.Equal(w) {
			return nil, fail(http.StatusBadRequest, "%s is not a file of window %s", f.Name, win)
		}
		sum, size, err := s.publishedSum(t.sync.Path(s.cfg.Root))
		if err != nil {
			return nil, err
		}
		if sum != f.Sha256 || size != f.Size {
			return nil, fail(http.StatusConflict, "window %s: %s is not here as declared (have %d bytes, sha256 %q); send it first", win, f.Name, size, sum)
		}
	}
	if err := s.state.received(gw, win); err != nil {
		return nil, err
	}
	s.stats.Windows.Add(1)
	s.notifyLoad()
	return s.progress(gw)
}

func (s *Server) progress(gw string) (Progress, error) {
	p := Progress{Gateway: gw, LastWindow: s.state.get(gw).LastReceived, ConfigMD5: make(map[string]string)}
	for _, name := range ConfigNames {
		data, err := os.ReadFile(filepath.Join(s.cfg.Root, "config", gw, name))
		if err == nil {
			p.ConfigMD5[name] = md5hex(data)
		}
	}
	return p, nil
}

func md5hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}
