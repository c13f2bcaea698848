package shard

import (
	"context"
	"database/sql"
	"flag"
	"log/slog"
	"time"

	"github.com/acstore/acstore/internal/mariadb"
)

// Flag is the -shards flag of the head-office programs.
type Flag struct{ Path string }

// Register adds -shards to fs.
func (f *Flag) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Path, "shards", "", "head office past one server: the shard map (YAML: shards, default, front, versions; see docs/scale.md); -dsn is then not used. A daemon reloads it on SIGHUP and when the file changes; a map that would move rows already loaded is refused and the old one stays")
}

// Open returns the Set the flags name: the shard map's, or the one server
// of dsn, opened (so a wrong DSN fails at start, as it always did), in
// which case db is that server's pool.
func (f *Flag) Open(ctx context.Context, dsn string) (set *Set, db *sql.DB, err error) {
	if f.Path == "" {
		db, err := mariadb.Open(ctx, dsn)
		if err != nil {
			return nil, nil, err
		}
		s := Of(db)
		s.owns = true
		return s, db, nil
	}
	m, err := Load(f.Path)
	if err != nil {
		return nil, nil, err
	}
	return Open(m), nil, nil
}

// Watch reloads the map of set while ctx lasts (see the function Watch),
// when the map came from -shards.
func (f *Flag) Watch(ctx context.Context, set *Set, log *slog.Logger) {
	if f.Path != "" {
		go Watch(ctx, set, f.Path, WatchPoll, log)
	}
}

// WatchPoll is how often the programs look at the shard map's file.
const WatchPoll = 5 * time.Second
