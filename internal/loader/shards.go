package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rebuild"
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
func (l *Loader) RunOnce(ctx context.Context) (Result, error) { return l.runAll(ctx, 0) }

// RunPass is RunOnce for a daemon's loop (Run): it waits for a shard at
// most Config.ShardPatience, then goes on and leaves it loading in the
// background (see run).
func (l *Loader) RunPass(ctx context.Context) (Result, error) {
	return l.runAll(ctx, l.cfg.ShardPatience)
}

func (l *Loader) runAll(ctx context.Context, patience time.Duration) (Result, error) {
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
	return l.run(ctx, interleave(batches), true, patience)
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
	res, err := l.run(ctx, batches, false, 0)
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
// load), else the shards with batches. It waits for a shard at most
// patience (0: for ever). A shard still loading then (hung: it took the
// connection and stopped answering; or only slow) goes on in the
// background while run returns, so it holds up neither the other shards
// nor the pace; later runs leave it alone until it is done, its gateways
// held in Result.Failed with ErrShardBusy (their files stay pending).
func (l *Loader) run(ctx context.Context, batches []*batch, all bool, patience time.Duration) (Result, error) {
	byShard := make(map[string][]*batch)
	m := l.set.Map() // one map for the run, even if it is reloaded meanwhile
	for _, b := range batches {
		name := m.For(b.gw, b.name[1:])
		byShard[name] = append(byShard[name], b)
	}
	res := Result{Failed: make(map[string]error)}
	done := make(chan shardDone, len(m.Shards)) // never blocks a goroutine run left
	running := map[string]*shardJob{}
	for _, name := range m.Names() {
		if len(byShard[name]) == 0 && (!all || l.checkedShard(name)) {
			continue
		}
		if since, ok := l.leftSince(name); ok {
			res.hold(byShard[name], busyError(name, since))
			continue
		}
		running[name] = l.startShard(ctx, name, byShard[name], done)
	}
	failed, down := l.collect(done, running, patience, byShard, &res)
	l.syncFront(ctx, patience)
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

// ErrShardBusy is the error of a gateway whose shard was still loading an
// earlier run's batches (left to it by RunPass).
var ErrShardBusy = errors.New("shard still loading")

func busyError(name string, since time.Time) error {
	return fmt.Errorf("shard %s: %w (since %s)", name, ErrShardBusy, since.Format(time.TimeOnly))
}

// shardJob is one shard's goroutine of a run; finished and left are
// guarded by the loader's mu.
type shardJob struct {
	name           string
	since          time.Time
	finished, left bool
}

// shardDone is what a shardJob reports.
type shardDone struct {
	name   string
	res    Result
	failed bool
	err    error
}

// startShard loads a shard's batches in a goroutine of its own.
func (l *Loader) startShard(ctx context.Context, name string, batches []*batch, done chan<- shardDone) *shardJob {
	j := &shardJob{name: name, since: time.Now()}
	l.inflight.Add(1)
	go func() {
		defer l.inflight.Done()
		r, f, made, err := l.runShard(ctx, name, batches)
		if made {
			l.frontDue.Store(true)
		}
		l.mu.Lock()
		j.finished = true
		left := j.left
		if left {
			if l.left[name]--; l.left[name] == 0 {
				delete(l.left, name)
				delete(l.leftAt, name)
			}
		}
		l.mu.Unlock()
		if left {
			l.cfg.Logger.Info("shard done with the batches a pass left it", "shard", name, "files", r.Files, "rows", r.Rows, "err", err)
		}
		done <- shardDone{name: name, res: r, failed: f, err: err}
	}()
	return j
}

// collect merges the reports of the shards running into res until every
// one is done or patience (0: for ever) is over; the gateways of a shard
// down, or still running then, are held in res.Failed.
func (l *Loader) collect(done <-chan shardDone, running map[string]*shardJob, patience time.Duration,
	byShard map[string][]*batch, res *Result) (failed bool, down map[string]error) {
	down = map[string]error{}
	var timeout <-chan time.Time
	if patience > 0 {
		t := time.NewTimer(patience)
		defer t.Stop()
		timeout = t.C
	}
	for len(running) > 0 {
		select {
		case d := <-done:
			if running[d.name] == nil {
				continue // left by this run: it reported when it ended
			}
			delete(running, d.name)
			res.merge(d.res)
			failed = failed || d.failed
			if d.err != nil {
				// Its gateways wait for it; the others are not held back.
				down[d.name] = d.err
				res.hold(byShard[d.name], fmt.Errorf("shard %s: %w", d.name, d.err))
			}
		case <-timeout:
			timeout = nil
			for name, j := range running {
				if !l.leave(j) {
					continue // finished just now: its report is on the way
				}
				delete(running, name)
				l.cfg.Logger.Warn("shard still loading; the pass goes on without it, its gateways wait", "shard", name, "since", j.since.Format(time.TimeOnly))
				res.hold(byShard[name], busyError(name, j.since))
			}
		}
	}
	return failed, down
}

// leave marks j as left running by its run; false if it finished.
func (l *Loader) leave(j *shardJob) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if j.finished {
		return false
	}
	j.left = true
	if l.left[j.name] == 0 {
		l.leftAt[j.name] = j.since
	}
	l.left[j.name]++
	return true
}

// leftSince tells whether a run left shard name loading, and since when.
func (l *Loader) leftSince(name string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leftAt[name], l.left[name] > 0
}

// hold gives the gateways of batches err, unless they have one already.
func (r *Result) hold(batches []*batch, err error) {
	for _, b := range batches {
		if r.Failed[b.gw] == nil {
			r.Failed[b.gw] = err
		}
	}
}

func (r *Result) merge(o Result) {
	r.Files += o.Files
	r.Batches += o.Batches
	r.Rows += o.Rows
	for gw, err := range o.Failed {
		r.Failed[gw] = err
	}
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
