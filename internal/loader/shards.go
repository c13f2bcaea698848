package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
)

// target is one shard being loaded: its pool and its rebuilder, which sees
// only the sync_files of the shard's own gateways.
type target struct {
	name    string
	db      *sql.DB
	rebuild *rebuild.Rebuilder
}

func (l *Loader) target(ctx context.Context, name string) (*target, error) {
	db, err := l.set.DB(ctx, name)
	if err != nil {
		return nil, err
	}
	rb := &rebuild.Rebuilder{Root: l.cfg.Root, DB: db, Logger: l.cfg.Logger, Attempts: 3}
	if l.set.Map().Sharded() {
		m := l.set.Map()
		rb.Keep = func(gw, day string) bool { return m.For(gw, day) == name }
	}
	return &target{name: name, db: db, rebuild: rb}, nil
}

func (l *Loader) isCreated(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.created[key]
}

func (l *Loader) setCreated(key string, v bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if v {
		l.created[key] = true
	} else {
		delete(l.created, key)
	}
}

// RunOnce loads everything pending now: each shard's batches in their own
// goroutine, so shards load in parallel and one that is down holds back
// only its own gateways (their files stay pending). It returns an error
// only when a database is unavailable (or ctx ended), after the shards
// that answer have loaded everything; with more than one shard it is a
// *shard.DownError naming them. A file or table that fails is logged,
// counted and retried at the next pass. It waits for the RunGateway calls
// in progress, and they for it.
func (l *Loader) RunOnce(ctx context.Context) (Result, error) {
	l.runMu.Lock()
	defer l.runMu.Unlock()
	var batches []*batch
	var err error
	if l.cfg.Keep {
		batches, err = l.scanSync("*")
	} else {
		batches, err = l.scanLoad()
	}
	if err != nil {
		return Result{}, fmt.Errorf("scan: %w", err)
	}
	if l.cfg.Gateways != nil {
		kept := batches[:0]
		for _, b := range batches {
			if l.cfg.Gateways(b.gw) {
				kept = append(kept, b)
			}
		}
		batches = kept
	}
	var backlog int64
	for _, b := range batches {
		backlog += int64(len(b.files))
	}
	l.stats.Backlog.Store(backlog)
	return l.run(ctx, interleave(batches), true)
}

// RunGateway is RunOnce for the sync_files of one gateway (keep mode), its
// shards in parallel. Head office runs it for several gateways at once, so
// that one gateway's huge file delays no other: calls for different
// gateways load side by side, calls for one gateway one after the other
// (no file is loaded twice). Config.Gateways is not asked.
func (l *Loader) RunGateway(ctx context.Context, gw string) (Result, error) {
	if !l.cfg.Keep {
		return Result{}, errors.New("loader: RunGateway is for keep mode")
	}
	l.runMu.RLock()
	defer l.runMu.RUnlock()
	mu := l.gatewayMu(gw)
	mu.Lock()
	defer mu.Unlock()
	batches, err := l.scanSync(gw)
	if err != nil {
		return Result{}, fmt.Errorf("scan %s: %w", gw, err)
	}
	var backlog int64
	for _, b := range batches {
		backlog += int64(len(b.files))
	}
	l.stats.Backlog.Add(backlog)
	res, err := l.run(ctx, batches, false)
	// What this run left is counted again by the next one.
	l.stats.Backlog.Add(int64(res.Files) - backlog)
	return res, err
}

// gatewayMu is the lock of gw's loads.
func (l *Loader) gatewayMu(gw string) *sync.Mutex {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.gateways[gw]
	if m == nil {
		m = new(sync.Mutex)
		l.gateways[gw] = m
	}
	return m
}

// run loads batches, each shard's in a goroutine of its own; every shard
// when all is set (it is checked at its first pass even with nothing to
// load), else the shards with batches.
func (l *Loader) run(ctx context.Context, batches []*batch, all bool) (Result, error) {
	byShard := make(map[string][]*batch)
	m := l.set.Map() // one map for the run, even if it is reloaded meanwhile
	for _, b := range batches {
		name := m.For(b.gw, b.name[1:])
		byShard[name] = append(byShard[name], b)
	}
	var (
		mu     sync.Mutex
		res    = Result{Failed: make(map[string]error)}
		failed bool
		made   bool
		down   = map[string]error{}
		wg     sync.WaitGroup
	)
	for _, name := range m.Names() {
		if len(byShard[name]) == 0 && (!all || l.checkedShard(name)) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, f, mk, err := l.runShard(ctx, name, byShard[name])
			mu.Lock()
			defer mu.Unlock()
			res.Files += r.Files
			res.Batches += r.Batches
			res.Rows += r.Rows
			for gw, err := range r.Failed {
				res.Failed[gw] = err
			}
			failed = failed || f
			made = made || mk
			if err != nil {
				down[name] = err
				// Its gateways wait for it; the others are not held back.
				for _, b := range byShard[name] {
					if res.Failed[b.gw] == nil {
						res.Failed[b.gw] = fmt.Errorf("shard %s: %w", name, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if made {
		l.frontDue.Store(true)
	}
	l.syncFront(ctx)
	if len(down) > 0 {
		if !m.Sharded() {
			return res, joinErrs(down)
		}
		de := &shard.DownError{Err: joinErrs(down), Of: len(m.Shards)}
		for n := range down {
			de.Shards = append(de.Shards, n)
		}
		return res, de
	}
	if !failed {
		l.stats.LastSuccess.Store(time.Now().Unix())
	}
	return res, nil
}

// syncFront brings the Spider front up to date when a day table was made
// since it last was; one run at a time does it.
func (l *Loader) syncFront(ctx context.Context) {
	if l.cfg.Front == nil {
		return
	}
	l.frontMu.Lock()
	defer l.frontMu.Unlock()
	if !l.frontDue.Load() || ctx.Err() != nil {
		return
	}
	if err := l.cfg.Front.Sync(ctx); err != nil {
		// The shards hold the rows; the front catches up at a later pass.
		l.cfg.Logger.Warn("spider front not updated; retried at the next pass", "err", err)
		return
	}
	l.frontDue.Store(false)
}

func (l *Loader) checkedShard(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checked[name]
}

// checkShard checks the shard's tables at its first pass, and again after
// the shard went away (it may have crashed, leaving the tables it had open
// damaged): those of today, yesterday and every day with files pending.
// One run checks while the others wait. checked tells whether it did (the
// front is then brought up to date: once per start).
func (l *Loader) checkShard(ctx context.Context, tg *target, batches []*batch) (checked bool, err error) {
	if l.checkedShard(tg.name) {
		return false, nil
	}
	l.checkMu.Lock()
	defer l.checkMu.Unlock()
	if l.checkedShard(tg.name) {
		return false, nil
	}
	now := time.Now()
	days := []string{now.Format(schema.DayLayout), now.AddDate(0, 0, -1).Format(schema.DayLayout)}
	for _, b := range batches {
		if d := b.name[1:]; !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	if err := l.checkTables(ctx, tg, days...); err != nil {
		return false, fmt.Errorf("check tables: %w", err)
	}
	l.mu.Lock()
	l.checked[tg.name] = true
	l.mu.Unlock()
	return true, nil
}

// dayMu is the lock of a day (YYYYMMDD): loads share it, retention's drop
// of the day takes it alone.
func (l *Loader) dayMu(day string) *sync.RWMutex {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.days[day]
	if m == nil {
		m = new(sync.RWMutex)
		l.days[day] = m
	}
	return m
}

// runShard checks the shard's recent tables at its first pass, then loads
// its batches one after the other. made tells whether a day table was
// created (the front then gets its Spider table).
func (l *Loader) runShard(ctx context.Context, name string, batches []*batch) (res Result, failed, made bool, err error) {
	res.Failed = make(map[string]error)
	tg, err := l.target(ctx, name)
	if err != nil {
		return res, false, false, err
	}
	if made, err = l.checkShard(ctx, tg, batches); err != nil {
		return res, false, false, err
	}
	for _, b := range batches {
		had := l.isCreated(name + "/" + b.name)
		day := l.dayMu(b.name[1:])
		day.RLock()
		n, err := l.loadBatch(ctx, tg, b)
		day.RUnlock()
		if !had && l.isCreated(name+"/"+b.name) {
			made = true
		}
		if err != nil {
			if mariadb.IsUnavailable(err) {
				l.mu.Lock()
				l.checked[name] = false
				l.mu.Unlock()
			}
			if mariadb.IsUnavailable(err) || ctx.Err() != nil {
				return res, failed, made, err
			}
			var de *shard.DownError
			if errors.As(err, &de) {
				return res, failed, made, err
			}
			failed = true
			if res.Failed[b.gw] == nil {
				res.Failed[b.gw] = fmt.Errorf("%s: %w", b.name, err)
			}
			continue
		}
		res.Files += len(b.files)
		res.Batches++
		res.Rows += n
		l.stats.Backlog.Add(-int64(len(b.files)))
	}
	return res, failed, made, nil
}
