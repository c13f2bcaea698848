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
	"sort"
	"sync"
	"time"

	"github.com/acstore/acstore/internal/backoff"
	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
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
	path string
	log  *slog.Logger
	mu   sync.Mutex
	gws  map[string]*GatewayState
}

func openServerState(path string, log *slog.Logger) (*serverState, error) {
	st := &serverState{path: path, log: log, gws: make(map[string]*GatewayState)}
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
		os.Rename(path, aside)
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
	data, err := json.MarshalIndent(st.gws, "", "  ")
	if err != nil {
		return err
	}
	if err := logfile.WriteFileAtomic(st.path, filepath.Dir(st.path), data); err != nil {
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

func (s *Server) notifyLoad() {
	select {
	case s.loadCh <- struct{}{}:
	default: // a load is already due; it will see this too
	}
}

// loadLoop runs the loads one at a time, after commits and every
// LoadInterval, with backoff while the database is away.
func (s *Server) loadLoop(ctx context.Context) {
	if s.loader == nil {
		return
	}
	failures := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.loadCh:
		case <-timer.C:
		}
		wait := s.cfg.LoadInterval
		if err := s.LoadOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.stats.LoadErrors.Add(1)
			wait = backoff.Wait(failures, time.Second, time.Minute)
			failures++
			s.log.Warn("load failed; files stay and are loaded later", "err", err, "retry_in", wait.Round(time.Millisecond))
		} else {
			failures = 0
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// LoadOnce loads the config tables that changed and every received
// sync_file not loaded yet, then records, per gateway, the windows that are
// now loaded. A gateway whose files or config fail to load backs off alone
// (its last_error says why; its last_loaded stays) while the others go on;
// only a database that is away fails the whole pass. The server calls it
// after each committed window; it is exported for tests and for a server
// without a listener.
func (s *Server) LoadOnce(ctx context.Context) error {
	if s.loader == nil {
		return errors.New("no database")
	}
	// One load at a time: the loader and its ledger are not safe for
	// concurrent use, and many branches commit at once.
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	snap := s.state.snapshot()
	failed := make(map[string]error)
	gws, _ := os.ReadDir(s.root().Config())
	for _, d := range gws {
		if gw := d.Name(); d.IsDir() && logfile.ValidGateway(gw) && s.loadable(gw) {
			if err := s.loadConfig(ctx, gw); err != nil {
				if ctx.Err() == nil && s.cfg.Shards != nil && s.cfg.Shards.Map.Sharded() && mariadb.IsUnavailable(err) {
					// Past one server the config tables are on the default
					// shard: while it is down they wait (their md5 is not
					// recorded), and the other shards' rows still load.
					s.log.Warn("default shard unavailable; config tables are loaded when it is back", "err", err)
					break
				}
				if mariadb.IsUnavailable(err) || ctx.Err() != nil {
					return err
				}
				failed[gw] = err
			}
		}
	}
	res, err := s.loader.RunOnce(ctx)
	var down *shard.DownError
	if errors.As(err, &down) && down.Partial() {
		// Past one server: the gateways of the shards that are down are
		// in res.Failed and back off; the others were loaded.
		s.log.Warn("shard(s) unavailable; their gateways' files stay pending", "shards", down.Shards, "err", down.Err)
	} else if err != nil {
		return err
	}
	for gw, err := range res.Failed {
		if failed[gw] == nil {
			failed[gw] = err
		}
	}
	s.stats.Loads.Add(1)
	s.stats.Rows.Add(uint64(res.Rows))
	keys := make([]string, 0, len(snap))
	for gw := range snap {
		keys = append(keys, gw)
	}
	sort.Strings(keys)
	var errs []error
	for _, gw := range keys {
		if !s.loadable(gw) && failed[gw] == nil {
			continue // backing off: not loaded this pass
		}
		ferr := failed[gw]
		s.backOff(gw, ferr)
		win := snap[gw]
		if err := s.state.update(gw, func(g *GatewayState) {
			if ferr != nil {
				g.LastError = ferr.Error()
				return
			}
			g.LastError = ""
			if win > g.LastLoaded {
				g.LastLoaded, g.LoadedAt = win, time.Now()
			}
		}); err != nil {
			errs = append(errs, err)
		}
	}
	if res.Files > 0 {
		s.log.Info("loaded", "files", res.Files, "rows", res.Rows)
	}
	return errors.Join(errs...)
}

// loadHold is a gateway's load backoff.
type loadHold struct {
	failures int
	until    time.Time
}

// loadable reports whether gw's files are loaded this pass (it is not
// backing off). Called with loadMu held.
func (s *Server) loadable(gw string) bool {
	return !time.Now().Before(s.holds[gw].until)
}

// backOff records the outcome of gw's load: after a failure its loads wait,
// longer each time, while the other gateways' go on. Called with loadMu
// held.
func (s *Server) backOff(gw string, err error) {
	if err == nil {
		delete(s.holds, gw)
		return
	}
	h := s.holds[gw]
	wait := backoff.Wait(h.failures, time.Second, 5*time.Minute)
	s.holds[gw] = loadHold{failures: h.failures + 1, until: time.Now().Add(wait)}
	s.stats.LoadErrors.Add(1)
	s.log.Warn("load of a gateway failed; its files stay, it is retried alone", "gw", gw, "err", err, "retry_in", wait.Round(time.Millisecond))
}

// loadConfig replaces a gateway's rows of each config table whose file
// changed since it was last loaded. The md5 is recorded after the load, so
// a crash in between loads it again.
func (s *Server) loadConfig(ctx context.Context, gw string) error {
	loaded := s.state.get(gw).ConfigLoaded
	for _, t := range schema.ConfigTables() {
		name := t.Name + ".tsv"
		path := filepath.Join(s.root().GatewayConfig(gw), name)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		sum := md5hex(data)
		if loaded[name] == sum {
			continue
		}
		if err := s.replaceConfig(ctx, t, gw, path); err != nil {
			return fmt.Errorf("config %s of %s: %w", name, gw, err)
		}
		if err := s.state.update(gw, func(g *GatewayState) { g.ConfigLoaded[name] = sum }); err != nil {
			return err
		}
		s.log.Info("config table loaded", "gw", gw, "table", t.Name, "md5", sum)
	}
	return nil
}

func (s *Server) replaceConfig(ctx context.Context, t *schema.Table, gw, path string) error {
	db := s.db
	if s.cfg.Shards != nil {
		// Config tables live on the default shard (the front reads them there).
		var err error
		if db, err = s.cfg.Shards.Default(ctx); err != nil {
			return err
		}
	}
	if err := mariadb.CreateTable(ctx, db, t, t.Name); err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// MyISAM has no transactions: the lock keeps two servers on one
	// database from interleaving their DELETE and LOAD.
	if err := mariadb.Lock(ctx, conn, t.Name, time.Minute); err != nil {
		return err
	}
	defer mariadb.Unlock(context.WithoutCancel(ctx), conn, t.Name)
	if _, err := conn.ExecContext(ctx, "DELETE FROM "+mariadb.Quote(t.Name)+" WHERE `gw` = ?", gw); err != nil {
		return err
	}
	rs, err := logfile.OpenRows(path, logfile.Plain)
	if err != nil {
		return err
	}
	defer rs.Close()
	if _, err := mariadb.Load(ctx, conn, t.Name, t.FileColumns(), gw, rs); err != nil {
		return err
	}
	return rs.Err()
}
