package datasync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/shard"
)

// GatewayState is what the server knows of one gateway.
type GatewayState struct {
	FirstWindow  string            `json:"first_window,omitempty"` // the first window it sent; see checkWindow
	LastReceived string            `json:"last_received"`          // last window committed, YYYYMMDD_HHMM
	ReceivedAt   time.Time         `json:"received_at"`
	LastLoaded   string            `json:"last_loaded"` // last window whose files are all in the database
	LoadedAt     time.Time         `json:"loaded_at"`
	ConfigLoaded map[string]string `json:"config_loaded"` // users.tsv -> md5 of what is in the database
	LastError    string            `json:"last_error,omitempty"`
}

// serverState is the server's state file, rewritten atomically on change.
type serverState struct {
	fsys fileutil.FS
	path string
	log  *slog.Logger
	mu   sync.Mutex
	gws  map[string]*GatewayState
}

func openServerState(fsys fileutil.FS, path string, log *slog.Logger) (*serverState, error) {
	st := &serverState{fsys: fsys, path: path, log: log, gws: make(map[string]*GatewayState)}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server state: %w", err)
	}
	if err := json.Unmarshal(data, &st.gws); err != nil {
		// The state only says how far each gateway got; the files and the
		// loader's ledger are the truth. Start again from them.
		aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
		log.Error("server state file is corrupt; setting it aside, gateways will report from scratch", "path", path, "moved_to", aside, "err", err)
		fsys.Rename(path, aside)
		st.gws = make(map[string]*GatewayState)
	}
	return st, nil
}

// ReadServerState reads the state file of a server data root, for status.
func ReadServerState(root string) (map[string]*GatewayState, error) {
	data, err := os.ReadFile(dataroot.Root(root).ServeState())
	if err != nil {
		return nil, err
	}
	gws := make(map[string]*GatewayState)
	if err := json.Unmarshal(data, &gws); err != nil {
		return nil, fmt.Errorf("server state: %w", err)
	}
	return gws, nil
}

func (st *serverState) gw(gw string) *GatewayState {
	g := st.gws[gw]
	if g == nil {
		g = &GatewayState{ConfigLoaded: make(map[string]string)}
		st.gws[gw] = g
	}
	if g.ConfigLoaded == nil {
		g.ConfigLoaded = make(map[string]string)
	}
	return g
}

func (st *serverState) get(gw string) GatewayState {
	st.mu.Lock()
	defer st.mu.Unlock()
	g := *st.gw(gw)
	g.ConfigLoaded = make(map[string]string)
	for k, v := range st.gw(gw).ConfigLoaded {
		g.ConfigLoaded[k] = v
	}
	return g
}

func (st *serverState) update(gw string, fn func(g *GatewayState)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	fn(st.gw(gw))
	return st.save()
}

// forgetConfig forgets, for every gateway, which file of a config table
// (its file name, users.tsv) is in the database: each loads it again.
func (st *serverState) forgetConfig(name string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, g := range st.gws {
		delete(g.ConfigLoaded, name)
	}
	return st.save()
}

// save writes the state file; the caller holds mu.
func (st *serverState) save() error {
	data, err := json.MarshalIndent(st.gws, "", "  ")
	if err != nil {
		return err
	}
	if err := fileutil.WriteFileFS(st.fsys, st.path, filepath.Dir(st.path), data); err != nil {
		return fmt.Errorf("server state: %w", err)
	}
	return nil
}

func (st *serverState) received(gw, win string) error {
	return st.update(gw, func(g *GatewayState) {
		if win > g.LastReceived {
			g.LastReceived = win
		}
		g.ReceivedAt = time.Now()
	})
}

func (st *serverState) snapshot() map[string]string {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]string, len(st.gws))
	for gw, g := range st.gws {
		out[gw] = g.LastReceived
	}
	return out
}

// loadGateway loads gw's config tables that changed and its sync_files not
// loaded yet, then records in its state the windows now loaded, or why
// not. A failure holds gw's loads back for a while (longer each time); the
// other gateways go on. It returns the error of a database that is away.
func (s *Server) loadGateway(ctx context.Context, gw string) error {
	mu := s.loads.lock(gw)
	mu.Lock()
	defer mu.Unlock()
	// The windows committed before the load began: their files are
	// published, so the load sees them.
	win, known := s.state.snapshot()[gw]
	ferr := s.loadGatewayConfig(ctx, gw)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if ferr != nil && mariadb.IsUnavailable(ferr) {
		s.backOff(gw, ferr, time.Minute)
		return ferr
	}
	res, err := s.loader.RunGateway(ctx, gw)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.stats.Loads.Add(1)
	s.stats.Rows.Add(uint64(res.Rows))
	if res.Files > 0 {
		s.log.Info("loaded", "gw", gw, "files", res.Files, "rows", res.Rows)
	}
	var down *shard.DownError
	switch {
	case errors.As(err, &down):
		// Past one server: the gateway's shard is down; its files stay
		// pending and it backs off.
		if ferr == nil {
			ferr = err
		}
	case err != nil:
		s.backOff(gw, err, time.Minute)
		return err
	}
	if ferr == nil {
		ferr = res.Failed[gw]
	}
	s.backOff(gw, ferr, 5*time.Minute)
	return s.recordLoad(gw, win, known, ferr)
}

// loadGatewayConfig loads gw's config tables. Past one server an
// unavailable default shard is no error: see the comment inside.
func (s *Server) loadGatewayConfig(ctx context.Context, gw string) error {
	ferr := s.loadConfig(ctx, gw)
	if ferr != nil && ctx.Err() == nil && s.cfg.Shards != nil && s.cfg.Shards.Map().Sharded() && mariadb.IsUnavailable(ferr) {
		// Past one server the config tables are on the default shard:
		// while it is down they wait (their md5 is not recorded), and the
		// rows still load on the gateway's own shard.
		s.log.Warn("default shard unavailable; config tables are loaded when it is back", "gw", gw, "err", ferr)
		ferr = nil
	}
	return ferr
}

// recordLoad records in gw's state how its load ended: ferr, or window
// win (committed before the load began; known: gw has a state) loaded.
func (s *Server) recordLoad(gw, win string, known bool, ferr error) error {
	if !known && ferr == nil {
		return nil // nothing committed yet: no state to report
	}
	return s.state.update(gw, func(g *GatewayState) {
		if ferr != nil {
			g.LastError = ferr.Error()
			return
		}
		g.LastError = ""
		if win > g.LastLoaded {
			g.LastLoaded, g.LoadedAt = win, time.Now()
		}
	})
}

// backOff holds gw's loads back after a failure (up to max), or lets them
// run at once again after a success.
func (s *Server) backOff(gw string, err error, max time.Duration) {
	wait := s.loads.backOff(gw, err != nil, max)
	if err == nil {
		return
	}
	s.stats.LoadErrors.Add(1)
	s.log.Warn("load of a gateway failed; its files stay, it is retried alone", "gw", gw, "err", err, "retry_in", wait.Round(time.Millisecond))
}
