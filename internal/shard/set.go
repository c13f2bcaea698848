package shard

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/acstore/acstore/internal/mariadb"
)

// Set is the map with a connection pool per shard. A shard is connected
// when first needed and again after a failed attempt, so a shard that is
// down at start holds back only its own gateways.
type Set struct {
	Map  *Map
	mu   sync.Mutex
	dbs  map[string]*sql.DB
	owns bool // close the pools (not when given one by the caller)
}

// Open returns a Set for m; nothing is connected yet.
func Open(m *Map) *Set { return &Set{Map: m, dbs: make(map[string]*sql.DB), owns: true} }

// Of returns the Set of one server already opened: today's head office.
func Of(db *sql.DB) *Set {
	return &Set{Map: Single("(given)"), dbs: map[string]*sql.DB{"main": db}}
}

// DB returns the pool of shard name, connecting (and creating its
// database) if needed.
func (s *Set) DB(ctx context.Context, name string) (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if db := s.dbs[name]; db != nil {
		return db, nil
	}
	dsn, ok := s.Map.Shards[name]
	if !ok {
		return nil, fmt.Errorf("no shard %q in the shard map", name)
	}
	db, err := mariadb.Open(ctx, dsn)
	if err != nil {
		return nil, &DownError{Shards: []string{name}, Err: err}
	}
	s.dbs[name] = db
	return db, nil
}

// Default returns the pool of the default shard.
func (s *Set) Default(ctx context.Context) (*sql.DB, error) { return s.DB(ctx, s.Map.Default) }

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
	for _, name := range s.Map.Names() {
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
