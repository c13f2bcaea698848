package rollup

// Midtable's own retention: its rollup tables and its record of them go by
// age (-keep-days) and, with the day's files, at the disk watermarks.
// Loader's and datasync's retention never touch them.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
)

// TableDay returns the YYYYMMDD a rollup table (MidFGA1H20261121 ...)
// belongs to.
func TableDay(name string) (string, bool) {
	_, _, day, ok := ParseTable(name)
	if !ok {
		return "", false
	}
	if _, err := schema.ParseDay(day); err != nil {
		return "", false
	}
	return day, true
}

// Days lists the days that have rollup tables on a shard that answers, or
// a record of rolled-up files. With the Roller it makes a retention.Store.
func (r *Roller) Days(ctx context.Context) ([]string, error) {
	seen := make(map[string]bool)
	for _, d := range r.state.recordedDays() {
		seen[d] = true
	}
	var mu sync.Mutex
	errs := r.set.Each(ctx, func(ctx context.Context, name string, db *sql.DB) error {
		days, err := retention.DBStore{DB: db, Match: TableDay}.Days(ctx)
		mu.Lock()
		defer mu.Unlock()
		for _, d := range days {
			seen[d] = true
		}
		return err
	})
	return slices.Sorted(maps.Keys(seen)), joinShardErrs(errs)
}

// DropDay drops a day's rollups: its record first, durably, then its
// rollup tables on every shard. So a crash or a shard that is down in
// between leaves rollup tables without a record (found and dropped at the
// next pass, or recomputed if the day's sync_files come back), never a
// record claiming files whose rollups are gone, which would make the
// files be skipped if they were published again.
func (r *Roller) DropDay(ctx context.Context, day string) error {
	if err := r.state.forget(day); err != nil {
		return err
	}
	var mu sync.Mutex
	errs := r.set.Each(ctx, func(ctx context.Context, name string, db *sql.DB) error {
		return retention.DBStore{DB: db, Match: TableDay, Dropped: func(t string) {
			mu.Lock()
			defer mu.Unlock()
			delete(r.created, name+"/"+t)
		}}.DropDay(ctx, day)
	})
	return joinShardErrs(errs)
}

// cutoff is the oldest day KeepDays keeps at now; empty when it keeps
// every day.
func (r *Roller) cutoff(now time.Time) string {
	if r.cfg.KeepDays <= 0 {
		return ""
	}
	return now.AddDate(0, 0, -r.cfg.KeepDays).Format(schema.DayLayout)
}

// Age drops the rollups of the days older than KeepDays, whose sync_files
// RunOnce no longer rolls up (they may stay longer, for loader). Rollups are never
// shipped anywhere, so unlike loader's retention it holds no day back for
// datasync.
func (r *Roller) Age(ctx context.Context, now time.Time) error {
	cutoff := r.cutoff(now)
	if cutoff == "" {
		return nil
	}
	days, err := r.Days(ctx)
	errs := []error{err}
	for _, d := range days {
		if d >= cutoff {
			break
		}
		if err := r.DropDay(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("drop the rollups of %s: %w", d, err))
			continue
		}
		r.prune.Stats().AgeDays.Add(1)
		r.cfg.Logger.Info("retention: removed the rollups of a day older than -keep-days", "day", d, "keep_days", r.cfg.KeepDays)
	}
	return errors.Join(errs...)
}

// Retention runs, once, the age retention and the disk watermarks.
func (r *Roller) Retention(ctx context.Context, now time.Time) error {
	return errors.Join(r.Age(ctx, now), r.prune.Disk(ctx, now))
}

// Pruner returns the Roller's disk retention, for its counters.
func (r *Roller) Pruner() *retention.Pruner { return r.prune }

// retain is the daemon's retention between passes, in the Roller's own
// loop (the Roller is not safe for concurrent use): by age once an hour,
// by disk as often as the pruner is due.
func (r *Roller) retain(ctx context.Context, now time.Time) {
	var errs []error
	if r.cfg.KeepDays > 0 && now.Sub(r.lastAge) >= time.Hour {
		errs = append(errs, r.Age(ctx, now))
		r.lastAge = now
	}
	errs = append(errs, r.prune.Tick(ctx, now))
	if err := errors.Join(errs...); err != nil && ctx.Err() == nil {
		r.cfg.Logger.Error("retention", "err", err)
	}
}

// DeleteGatewayDay removes one gateway's rows from the rollup tables of
// day on every shard of set (the gateway's rows are on one; the others
// delete nothing), for head office's per-gateway quota, which drops the
// gateway's day whole: its sync_files go, and so do the rollups made of
// them. The record of rolled-up files is midtable's and stays (the files
// are gone, so nothing is rolled up again). A shard that is down makes it
// fail, to be tried again.
func DeleteGatewayDay(ctx context.Context, set *shard.Set, gw, day string) error {
	return joinShardErrs(set.Each(ctx, func(ctx context.Context, name string, db *sql.DB) error {
		return retention.DBStore{DB: db, Match: TableDay}.DeleteGateway(ctx, gw, day)
	}))
}

func joinShardErrs(m map[string]error) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(m)) {
		errs = append(errs, fmt.Errorf("shard %s: %w", name, m[name]))
	}
	return errors.Join(errs...)
}
