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
	if l.set.Map.Sharded() {
		m := l.set.Map
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
// counted and retried at the next pass.
func (l *Loader) RunOnce(ctx context.Context) (Result, error) {
	var batches []*batch
	var err error
	if l.cfg.Keep {
		batches, err = l.scanSync()
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
	batches = interleave(batches)
	byShard := make(map[string][]*batch)
	var backlog int64
	for _, b := range batches {
		backlog += int64(len(b.files))
		name := l.set.Map.For(b.gw, b.name[1:])
		byShard[name] = append(byShard[name], b)
	}
	l.stats.Backlog.Store(backlog)

	var (
		mu     sync.Mutex
		res    = Result{Failed: make(map[string]error)}
		failed bool
		made   bool
		down   = map[string]error{}
		wg     sync.WaitGroup
	)
	for _, name := range l.set.Map.Names() {
		if len(byShard[name]) == 0 && l.checkedShard(name) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, f, m, err := l.runShard(ctx, name, byShard[name])
			mu.Lock()
			defer mu.Unlock()
			res.Files += r.Files
			res.Batches += r.Batches
			res.Rows += r.Rows
			for gw, err := range r.Failed {
				res.Failed[gw] = err
			}
			failed = failed || f
			made = made || m
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
	if l.cfg.Front != nil && l.frontDue.Load() && ctx.Err() == nil {
		if err := l.cfg.Front.Sync(ctx); err != nil {
			// The shards hold the rows; the front catches up at a later pass.
			l.cfg.Logger.Warn("spider front not updated; retried at the next pass", "err", err)
		} else {
			l.frontDue.Store(false)
		}
	}
	if len(down) > 0 {
		if !l.set.Map.Sharded() {
			return res, joinErrs(down)
		}
		de := &shard.DownError{Err: joinErrs(down), Of: len(l.set.Map.Shards)}
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

func (l *Loader) checkedShard(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checked[name]
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
	if !l.checkedShard(name) {
		// At the first pass, and again after the shard went away (it may
		// have crashed, leaving the tables it had open damaged): check the
		// tables of today, yesterday and every day with files pending.
		now := time.Now()
		days := []string{now.Format(schema.DayLayout), now.AddDate(0, 0, -1).Format(schema.DayLayout)}
		for _, b := range batches {
			if d := b.name[1:]; !slices.Contains(days, d) {
				days = append(days, d)
			}
		}
		if err := l.checkTables(ctx, tg, days...); err != nil {
			return res, false, false, fmt.Errorf("check tables: %w", err)
		}
		l.mu.Lock()
		l.checked[name] = true
		l.mu.Unlock()
		made = true // the front is brought up to date once per start
	}
	for _, b := range batches {
		had := l.isCreated(name + "/" + b.name)
		n, err := l.loadBatch(ctx, tg, b)
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
