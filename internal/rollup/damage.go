package rollup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/shard"
)

// checkDays runs CHECK TABLE on the rollup tables of the given days and
// rebuilds every day that has a damaged one. The Roller does it at its
// first pass and after the server went away: a server that dies (kill -9,
// power) leaves the MyISAM tables it was writing damaged, and a table that
// is only written by DELETE and LOAD DATA may not show it by an error.
func (r *Roller) checkDays(ctx context.Context, days []string) error {
	damaged := map[string]error{}
	down := &shard.DownError{Of: len(r.set.Map().Shards)}
	var downErrs []error
	for _, shardName := range r.set.Map().Names() {
		db, err := r.set.DB(ctx, shardName)
		if err == nil {
			err = checkShardDays(ctx, db, days, damaged)
		}
		if err != nil && r.set.Map().Sharded() && mariadb.IsUnavailable(err) && ctx.Err() == nil {
			// Checked when it is back; the other shards go on.
			down.Shards = append(down.Shards, shardName)
			downErrs = append(downErrs, err)
			continue
		}
		if err != nil {
			return err
		}
	}
	for _, day := range slices.Sorted(maps.Keys(damaged)) {
		if err := r.repairDay(ctx, day, damaged[day]); err != nil {
			return err
		}
	}
	if len(down.Shards) > 0 {
		down.Err = errors.Join(downErrs...)
		return down
	}
	return nil
}

// checkShardDays adds to damaged the days of one server with a damaged
// rollup table.
func checkShardDays(ctx context.Context, db *sql.DB, days []string, damaged map[string]error) error {
	tables, err := mariadb.Tables(ctx, db)
	if err != nil {
		return err
	}
	for _, name := range tables {
		if !strings.HasPrefix(name, "Mid") || len(name) < 8 {
			continue
		}
		day := name[len(name)-8:]
		if !slices.Contains(days, day) || damaged[day] != nil {
			continue
		}
		if err := mariadb.Check(ctx, db, name); err != nil {
			if mariadb.IsUnavailable(err) {
				return err
			}
			damaged[day] = fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// repairDay repairs the day's damaged rollup tables and recomputes every
// block of the day from the sync_files. REPAIR makes a table usable but
// drops the rows it cannot read, which may belong to blocks already
// recorded as done; the rebuild puts them back. A table REPAIR cannot save
// is dropped and created again.
func (r *Roller) repairDay(ctx context.Context, day string, cause error) error {
	r.cfg.Logger.Warn("rollup table damaged; repairing and recomputing the day", "day", day, "err", cause)
	r.stats.Repairs.Add(1)
	for _, shardName := range r.set.Map().Names() {
		db, err := r.set.DB(ctx, shardName)
		if err != nil {
			return err
		}
		if err := r.repairShardDay(ctx, shardName, db, day); err != nil {
			return err
		}
	}
	if _, err := r.Rebuild(ctx, day); err != nil {
		return fmt.Errorf("recompute %s after damage: %w", day, err)
	}
	return nil
}

// repairShardDay repairs, or drops, the damaged rollup tables of day on
// one server.
func (r *Roller) repairShardDay(ctx context.Context, shardName string, db *sql.DB, day string) error {
	tables, err := mariadb.Tables(ctx, db)
	if err != nil {
		return err
	}
	for _, name := range tables {
		if !strings.HasPrefix(name, "Mid") || !strings.HasSuffix(name, day) {
			continue
		}
		if mariadb.Check(ctx, db, name) == nil {
			continue
		}
		if err := mariadb.Repair(ctx, db, name); err != nil {
			if mariadb.IsUnavailable(err) {
				return err
			}
			r.cfg.Logger.Warn("REPAIR TABLE failed; dropping the table, the day is recomputed", "table", name, "err", err)
			if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(name)); err != nil {
				return fmt.Errorf("drop %s: %w", name, err)
			}
			delete(r.created, shardName+"/"+name)
		}
	}
	return nil
}
