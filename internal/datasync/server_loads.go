package datasync

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/acstore/acstore/internal/backoff"
	"github.com/acstore/acstore/internal/logfile"
)

// loadSched decides which gateways load when: each gateway's loads one
// after the other, up to workers gateways at once, so that one gateway's
// huge file delays no other. A gateway is due after each commit of its own
// and at every LoadInterval; one that failed waits out its backoff alone.
type loadSched struct {
	workers int
	kick    chan struct{} // something is due or a load ended
	mu      sync.Mutex
	queue   []string        // due gateways, in the order they became due
	due     map[string]bool // in queue
	running map[string]bool // a worker has it
	active  int             // len(running)
	holds   map[string]loadHold
	locks   map[string]*sync.Mutex // see lock

	// shardOf, at a head office past one server, names the shard that
	// holds gw's rows today and how many shards there are. A shard's
	// gateways then take at most their share of the workers, so that a
	// hung shard (connections open, nothing answering) holds back its own
	// gateways only, as a shard that is down does.
	shardOf func(gw string) (shard string, shards int)
}

// loadHold is a gateway's load backoff.
type loadHold struct {
	failures int
	until    time.Time
}

func newLoadSched(workers int) *loadSched {
	return &loadSched{workers: workers, kick: make(chan struct{}, 1), due: make(map[string]bool),
		running: make(map[string]bool), holds: make(map[string]loadHold), locks: make(map[string]*sync.Mutex)}
}

// lock is held through a load of gw and by whatever must not run beside
// one (removing a day of gw for its quota).
func (ls *loadSched) lock(gw string) *sync.Mutex {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	m := ls.locks[gw]
	if m == nil {
		m = new(sync.Mutex)
		ls.locks[gw] = m
	}
	return m
}

func (ls *loadSched) wake() {
	select {
	case ls.kick <- struct{}{}:
	default: // a wake-up is pending; it will see this too
	}
}

// markDue queues gateways for a load.
func (ls *loadSched) markDue(gws ...string) {
	ls.mu.Lock()
	for _, gw := range gws {
		if !ls.due[gw] {
			ls.due[gw] = true
			ls.queue = append(ls.queue, gw)
		}
	}
	ls.mu.Unlock()
	ls.wake()
}

// held reports whether gw is backing off now.
func (ls *loadSched) held(gw string) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return time.Now().Before(ls.holds[gw].until)
}

// next takes the due gateways that may start now: not loading already,
// not backing off, within the workers. The others stay queued.
func (ls *loadSched) next() []string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var start []string
	now := time.Now()
	busy := ls.shardsBusy()
	kept := ls.queue[:0]
	for _, gw := range ls.queue {
		if ls.active < ls.workers && !ls.running[gw] && !now.Before(ls.holds[gw].until) && ls.shardFree(gw, busy) {
			ls.running[gw] = true
			ls.active++
			delete(ls.due, gw)
			start = append(start, gw)
			continue
		}
		kept = append(kept, gw)
	}
	ls.queue = kept
	return start
}

// shardsBusy counts the running loads of each shard.
func (ls *loadSched) shardsBusy() map[string]int {
	if ls.shardOf == nil {
		return nil
	}
	busy := make(map[string]int)
	for gw := range ls.running {
		name, _ := ls.shardOf(gw)
		busy[name]++
	}
	return busy
}

// shardFree reports whether gw's shard has a worker left of its share
// (the workers over the shards, rounded up), and if so counts gw in busy.
func (ls *loadSched) shardFree(gw string, busy map[string]int) bool {
	if ls.shardOf == nil {
		return true
	}
	name, shards := ls.shardOf(gw)
	if shards > 1 && busy[name] >= (ls.workers+shards-1)/shards {
		return false
	}
	busy[name]++
	return true
}

func (ls *loadSched) done(gw string) {
	ls.mu.Lock()
	delete(ls.running, gw)
	ls.active--
	ls.mu.Unlock()
	ls.wake()
}

// backOff records the outcome of gw's load: after a failure its loads wait,
// longer each time (up to max), while the other gateways' go on. It
// returns the wait, 0 after a success.
func (ls *loadSched) backOff(gw string, failed bool, max time.Duration) time.Duration {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if !failed {
		delete(ls.holds, gw)
		return 0
	}
	h := ls.holds[gw]
	wait := backoff.Wait(h.failures, time.Second, max)
	ls.holds[gw] = loadHold{failures: h.failures + 1, until: time.Now().Add(wait)}
	// Due again once the wait is over.
	time.AfterFunc(wait, ls.wake)
	return wait
}

// notifyLoad makes gw due for a load (after a commit or a new config file).
func (s *Server) notifyLoad(gw string) {
	if s.loader != nil {
		s.loads.markDue(gw)
	}
}

// loadLoop runs each due gateway's load in a goroutine of its own, up to
// LoadWorkers at once, until ctx ends; every gateway is due at start and
// every LoadInterval.
func (s *Server) loadLoop(ctx context.Context) {
	if s.loader == nil {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(s.cfg.LoadInterval)
	defer tick.Stop()
	s.loads.markDue(s.knownGateways()...)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.loads.kick:
		case <-tick.C:
			s.loads.markDue(s.knownGateways()...)
		}
		for _, gw := range s.loads.next() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer s.loads.done(gw)
				s.loadGateway(ctx, gw)
			}()
		}
	}
}

// LoadOnce loads every gateway that is not backing off, up to LoadWorkers
// at once, and returns when all are done: their config tables that
// changed, their sync_files not loaded yet, and the windows now loaded in
// their state. A gateway whose files or config fail to load backs off
// alone (its last_error says why; its last_loaded stays); the error
// returned is that of the database being away. The server loads on its
// own after each commit; LoadOnce is for tests and for a server without a
// listener.
func (s *Server) LoadOnce(ctx context.Context) error {
	if s.loader == nil {
		return errors.New("no database")
	}
	sem := make(chan struct{}, s.cfg.LoadWorkers)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, gw := range s.knownGateways() {
		if s.loads.held(gw) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.loadGateway(ctx, gw); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// knownGateways lists the gateways with files here (sync_files or config
// tables) or a state, sorted.
func (s *Server) knownGateways() []string {
	seen := make(map[string]bool)
	for gw := range s.state.snapshot() {
		seen[gw] = true
	}
	for _, dir := range []string{s.root().Sync(), s.root().Config()} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() && logfile.ValidGateway(e.Name()) {
				seen[e.Name()] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for gw := range seen {
		out = append(out, gw)
	}
	slices.Sort(out)
	return out
}
