package datasync

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
)

// ServerStats are the server's counters.
type ServerStats struct {
	Uploads, Published, Resumed, Duplicates, Bytes atomic.Uint64
	Rejected, BadFrames, DiskFull, Windows         atomic.Uint64
	BadContent, QuotaFull, BadWindows, Busy        atomic.Uint64
	AuthFailed                                     atomic.Uint64
	Loads, LoadErrors, Rows                        atomic.Uint64
	IncomingExpired                                atomic.Uint64 // partial uploads removed after -incoming-ttl
	GatewayDays                                    atomic.Uint64 // days of one gateway removed for its quota
	Active                                         atomic.Int64
}

// Server receives sync_files from branches.
type Server struct {
	cfg    ServerConfig
	db     *sql.DB
	loader *loader.Loader
	shards *shard.Set // the loader's: cfg.Shards, else db as one shard
	log    *slog.Logger
	state  *serverState
	stats  ServerStats
	loads  *loadSched
	slots  *slots
	nonces *nonces
	nobody []byte            // the key an unknown gateway is checked with
	logLim *logLimit         // refusals logged
	prune  *retention.Pruner // without a database; else the loader's

	// configChecked says the config tables were checked since the server
	// started or the database was last away (checkConfig).
	configChecked atomic.Bool

	gateways atomic.Pointer[map[string]string] // GW -> secret; replaced by Reload
	tlsCfg   atomic.Pointer[tls.Config]        // replaced by Reload

	// dirMu serialises making the directories files are published in: a
	// second upload must not publish into a new directory before the
	// first has made it durable (fileutil.MkdirAllFS).
	dirMu sync.Mutex

	mu      sync.Mutex
	busy    map[string]bool          // gw/name being uploaded
	partial map[string]partialHash   // incoming path -> hash of its bytes so far
	sums    map[string]publishedHash // published path -> sha256
	used    map[string]int64         // gateway -> bytes on disk (quota)
}

// NewServer returns a server. db may be nil: files are then received and
// stored but not loaded (another process can run loader -keep).
func NewServer(cfg ServerConfig, db *sql.DB) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := openServerState(cfg.FS, dataroot.Root(cfg.Root).ServeState(), cfg.Logger)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, db: db, log: cfg.Logger, state: st, loads: newLoadSched(cfg.LoadWorkers),
		slots: newSlots(cfg.MaxUploads, cfg.MaxGatewayUploads), nonces: newNonces(), nobody: randomKey(),
		logLim: &logLimit{burst: 20, period: 10 * time.Second},
		busy:   make(map[string]bool), partial: make(map[string]partialHash),
		sums: make(map[string]publishedHash), used: make(map[string]int64)}
	s.gateways.Store(&cfg.Gateways)
	if set := cfg.Shards; set != nil {
		s.loads.shardOf = func(gw string) (string, int) {
			m := set.Map()
			return m.For(gw, time.Now().Format(schema.DayLayout)), len(m.Shards)
		}
	}
	if db != nil || cfg.Shards != nil {
		if s.shards = cfg.Shards; s.shards == nil {
			s.shards = shard.Of(db)
		}
		if s.loader, err = loader.New(loader.Config{Root: cfg.Root, Keep: true, KeepDays: cfg.KeepDays, Disk: cfg.Disk, Logger: cfg.Logger,
			Limits: s.limits(), MaxStatementBytes: cfg.LoadStatementBytes, Shards: s.shards, Front: cfg.Front}, db); err != nil {
			return nil, err
		}
	} else {
		s.prune = retention.New(retention.Config{Root: cfg.Root, KeepDays: cfg.KeepDays, Marks: cfg.Disk, Logger: cfg.Logger})
	}
	return s, nil
}

// limits are the bounds on reading one sync_file.
func (s *Server) limits() logfile.Limits {
	return logfile.Limits{MaxDict: int64(s.cfg.MaxDict), MaxRow: int(s.cfg.MaxRow), MaxRatio: int64(s.cfg.MaxRatio)}
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
	if tcfg != nil {
		// Each handshake takes the certificate and CA of the moment, so
		// Reload replaces them without touching open connections.
		s.tlsCfg.Store(tcfg)
		tcfg = &tls.Config{MinVersion: tcfg.MinVersion, NextProtos: tcfg.NextProtos, ClientAuth: tcfg.ClientAuth, ClientCAs: tcfg.ClientCAs,
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.tlsCfg.Load(), nil }}
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
		// Streams on one connection are uploads too: no more than one
		// gateway may have.
		HTTP2:       &http.HTTP2Config{MaxConcurrentStreams: s.cfg.MaxGatewayUploads + 2},
		ErrorLog:    newHandshakeLogger(s.log, 10*time.Second),
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	if tcfg != nil {
		ln = tls.NewListener(ln, tcfg)
	}
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); s.loadLoop(ctx) }()
	go s.housekeepLoop(ctx)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	s.log.Info("datasync server listening", "addr", ln.Addr().String(), "tls", tcfg != nil, "mutual_tls", tcfg != nil && tcfg.ClientCAs != nil, "gateways", len(*s.gateways.Load()))
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
