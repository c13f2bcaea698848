package shard

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/acstore/acstore/internal/mariadb"
)

// Set is the map with a connection pool per shard. A shard is connected
// when first needed and again after a failed attempt, so a shard that is
// down at start holds back only its own gateways. The map can be replaced
// while the Set is in use (Replace): callers take it with Map once per
// piece of work.
type Set struct {
	m    atomic.Pointer[Map]
	mu   sync.Mutex // the pools; never held while connecting
	dbs  map[string]*sql.DB
	dsns map[string]string // the DSN each pool was opened with
	owns bool              // close the pools (not when given one by the caller)
}

// Open returns a Set for m; nothing is connected yet.
func Open(m *Map) *Set {
	s := &Set{dbs: make(map[string]*sql.DB), dsns: make(map[string]string), owns: true}
	s.m.Store(m)
	return s
}

// Of returns the Set of one server already opened: today's head office.
func Of(db *sql.DB) *Set {
	s := &Set{dbs: map[string]*sql.DB{"main": db}, dsns: map[string]string{"main": "(given)"}}
	s.m.Store(Single("(given)"))
	return s
}

// Map returns the map in use.
func (s *Set) Map() *Map { return s.m.Load() }

// Replace puts m in use if it may follow the map in use (CheckChange with
// today, YYYYMMDD); otherwise it returns why and the old map stays. The
// pools of shards that m drops or gives another DSN are closed (queries
// running on them finish first).
func (s *Set) Replace(m *Map, today string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.owns {
		return fmt.Errorf("the shard map of a server given by the caller cannot be replaced")
	}
	if err := CheckChange(s.m.Load(), m, today); err != nil {
		return err
	}
	for name, db := range s.dbs {
		if m.Shards[name] != s.dsns[name] {
			db.Close()
			delete(s.dbs, name)
			delete(s.dsns, name)
		}
	}
	s.m.Store(m)
	return nil
}

// DB returns the pool of shard name, connecting (and creating its
// database) if needed. The Set's lock is not held while connecting, so a
// shard that takes its connect timeout to fail does not hold up the pools
// of the others.
func (s *Set) DB(ctx context.Context, name string) (*sql.DB, error) {
	s.mu.Lock()
	db := s.dbs[name]
	s.mu.Unlock()
	if db != nil {
		return db, nil
	}
	dsn, ok := s.Map().Shards[name]
	if !ok {
		return nil, fmt.Errorf("no shard %q in the shard map", name)
	}
	db, err := mariadb.Open(ctx, dsn)
	if err != nil {
		return nil, &DownError{Shards: []string{name}, Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.dbs[name]; cur != nil {
		db.Close() // connected meanwhile by another caller
		return cur, nil
	}
	if s.Map().Shards[name] != dsn {
		db.Close() // the map changed meanwhile
		return nil, &DownError{Shards: []string{name}, Err: fmt.Errorf("the shard map changed while connecting")}
	}
	s.dbs[name], s.dsns[name] = db, dsn
	return db, nil
}

// Default returns the pool of the default shard.
func (s *Set) Default(ctx context.Context) (*sql.DB, error) { return s.DB(ctx, s.Map().Default) }

// Close closes the pools the Set opened.
func (s *Set) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.owns {
		return nil
	}
	for n, db := range s.dbs {
		db.Close()
		delete(s.dbs, n)
	}
	return nil
}

// Each runs fn on every shard in parallel and returns the errors by shard.
// A shard that cannot be connected gets a *DownError without fn running.
func (s *Set) Each(ctx context.Context, fn func(ctx context.Context, name string, db *sql.DB) error) map[string]error {
	var mu sync.Mutex
	errs := make(map[string]error)
	var wg sync.WaitGroup
	for _, name := range s.Map().Names() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := s.DB(ctx, name)
			if err == nil {
				err = fn(ctx, name, db)
			}
			if err != nil {
				mu.Lock()
				errs[name] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// DownError says which shards could not be reached.
type DownError struct {
	Shards []string
	Of     int // shards in the map
	Err    error
}

// Partial reports whether some shards were still up.
func (e *DownError) Partial() bool { return len(e.Shards) < e.Of }

func (e *DownError) Error() string {
	sort.Strings(e.Shards)
	return fmt.Sprintf("shard(s) %s unavailable: %v", strings.Join(e.Shards, ", "), e.Err)
}

func (e *DownError) Unwrap() error { return e.Err }
