package spider

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/shard"
)

// Front is the Spider front of a shard set. It is safe for concurrent use.
type Front struct {
	set *shard.Set
	log *slog.Logger
	mu  sync.Mutex
	db  *sql.DB
	dsn string // the front's DSN db was opened with
	// setUp is the map whose shards got a CREATE SERVER on this pool; a
	// reloaded map (shard.Set.Replace) is set up again.
	setUp *shard.Map
}

// New returns the front of set (set.Map().Front); nothing is connected yet.
func New(set *shard.Set, log *slog.Logger) (*Front, error) {
	if set.Map().Front == "" {
		return nil, errors.New("the shard map names no front")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Front{set: set, log: log}, nil
}

// DB returns the front's pool, connecting if needed, with the Spider
// engine loaded and a server definition for every shard.
func (f *Front) DB(ctx context.Context) (*sql.DB, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.set.Map()
	if m.Front == "" {
		return nil, errors.New("the shard map names no front")
	}
	if f.db != nil && f.dsn != m.Front {
		f.db.Close() // a reloaded map moved the front
		f.db, f.setUp = nil, nil
	}
	if f.db == nil {
		db, err := mariadb.Open(ctx, m.Front)
		if err != nil {
			return nil, fmt.Errorf("spider front: %w", err)
		}
		f.db, f.dsn = db, m.Front
	}
	if f.setUp != m {
		if err := f.setup(ctx, m); err != nil {
			return nil, err
		}
		f.setUp = m
	}
	return f.db, nil
}

// Close closes the front's pool; a later DB connects again.
func (f *Front) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db == nil {
		return nil
	}
	err := f.db.Close()
	f.db, f.setUp = nil, nil
	return err
}

// setup loads Spider if the server lacks it, and (re)defines a server per
// shard from the map's DSNs.
func (f *Front) setup(ctx context.Context, m *shard.Map) error {
	var n int
	if err := f.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.ENGINES WHERE ENGINE = 'SPIDER' AND SUPPORT IN ('YES', 'DEFAULT')").Scan(&n); err != nil {
		return fmt.Errorf("spider front: %w", err)
	}
	if n == 0 {
		if _, err := f.db.ExecContext(ctx, "INSTALL SONAME 'ha_spider'"); err != nil {
			return fmt.Errorf("spider front: the Spider engine is not loaded and INSTALL SONAME 'ha_spider' failed "+
				"(install the mariadb-plugin-spider package on the front): %w", err)
		}
	}
	for _, name := range m.Names() {
		cfg, err := mysql.ParseDSN(m.Shards[name])
		if err != nil {
			return fmt.Errorf("shard %s: %w", name, err)
		}
		host, portText, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return fmt.Errorf("shard %s: address %q: %w", name, cfg.Addr, err)
		}
		port, err := strconv.Atoi(portText)
		if err != nil {
			return fmt.Errorf("shard %s: port %q: %w", name, portText, err)
		}
		q := "CREATE OR REPLACE SERVER " + mariadb.Quote(ServerName(name)) +
			" FOREIGN DATA WRAPPER mysql OPTIONS (HOST ?, PORT ?, USER ?, PASSWORD ?, DATABASE ?)"
		if _, err := f.db.ExecContext(ctx, q, host, port, cfg.User, cfg.Passwd, cfg.DBName); err != nil {
			return fmt.Errorf("spider front: define server for shard %s: %w", name, err)
		}
	}
	return nil
}

// Sync gives the front a Spider table for every day, rollup and config
// table found on any shard, and creates, empty, on every other shard of
// that day the table the front's partitions read. A shard that is down is
// skipped (its tables come at a later Sync); the error names it.
func (f *Front) Sync(ctx context.Context) error {
	fdb, err := f.DB(ctx)
	if err != nil {
		return err
	}
	m := f.set.Map()
	onShard, errs := f.shardTables(ctx)
	have, err := mariadb.Tables(ctx, fdb)
	if err != nil {
		return fmt.Errorf("spider front: %w", err)
	}
	onFront := map[string]bool{}
	for _, t := range have {
		onFront[t] = true
	}
	names := make([]string, 0, len(onShard))
	for t := range onShard {
		names = append(names, t)
	}
	sort.Strings(names)
	var all []error
	for _, t := range names {
		all = f.syncTable(ctx, fdb, m, t, onShard[t], onFront[t], all)
	}
	for _, name := range m.Names() {
		if err := errs[name]; err != nil {
			all = append(all, fmt.Errorf("shard %s: %w", name, err))
		}
	}
	return errors.Join(all...)
}

// shardTables lists the day, rollup and config tables of every shard:
// table -> shards that have it. errs holds the shards that could not say.
func (f *Front) shardTables(ctx context.Context) (onShard map[string]map[string]bool, errs map[string]error) {
	var mu sync.Mutex
	onShard = map[string]map[string]bool{} // table -> shards that have it
	errs = f.set.Each(ctx, func(ctx context.Context, name string, db *sql.DB) error {
		tables, err := mariadb.Tables(ctx, db)
		mu.Lock()
		defer mu.Unlock()
		for _, t := range tables {
			if _, _, ok := localDDL(t); !ok {
				continue
			}
			if onShard[t] == nil {
				onShard[t] = map[string]bool{}
			}
			onShard[t][name] = true
		}
		return err
	})
	return onShard, errs
}

// syncTable creates table t on each of its shards that lacks it (has
// says which have it) and then, if all have it and the front does not,
// its Spider table on the front. It appends its errors to all.
func (f *Front) syncTable(ctx context.Context, fdb *sql.DB, m *shard.Map, t string, has map[string]bool, onFront bool, all []error) []error {
	day, partitioned := tableDay(t)
	shards := []string{m.Default}
	if partitioned {
		shards = m.ShardsOf(day)
	}
	complete := true
	for _, s := range shards {
		if has[s] {
			continue
		}
		if err := f.createOnShard(ctx, s, t); err != nil {
			complete = false
			all = append(all, err)
		}
	}
	if onFront || !complete {
		return all
	}
	ddl, err := DDL(m, t, day)
	if err != nil {
		return append(all, err)
	}
	if _, err := fdb.ExecContext(ctx, ddl); err != nil {
		return append(all, fmt.Errorf("spider front: create %s: %w", t, err))
	}
	f.log.Info("spider table created on the front", "table", t, "shards", shards)
	return all
}

// createOnShard creates table t, empty, on shard s, so that the front's
// partition on s has a table to read.
func (f *Front) createOnShard(ctx context.Context, s, t string) error {
	db, err := f.set.DB(ctx, s)
	if err != nil {
		return err
	}
	ddl, _, _ := localDDL(t)
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("shard %s: create %s: %w", s, t, err)
	}
	return nil
}

// DropDay drops the front's tables of day, rollup tables included
// (loader's retention; the shards' day tables are dropped by their loader,
// their rollup tables by midtable). A rollup table midtable still keeps on
// the shards gets its front table again at the next Sync.
func (f *Front) DropDay(ctx context.Context, day string) error {
	fdb, err := f.DB(ctx)
	if err != nil {
		return err
	}
	return retention.DBStore{DB: fdb, Match: tableDay}.DropDay(ctx, day)
}

// Up pings every shard (each within ConnectTimeout) and returns those that
// answer.
func (f *Front) Up(ctx context.Context) map[string]bool {
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout*time.Second)
	defer cancel()
	up := map[string]bool{}
	var mu sync.Mutex
	f.set.Each(ctx, func(ctx context.Context, name string, db *sql.DB) error {
		err := db.PingContext(ctx)
		if err == nil {
			mu.Lock()
			up[name] = true
			mu.Unlock()
		}
		return err
	})
	return up
}
