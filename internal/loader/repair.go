package loader

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
)

// recoverTable repairs a damaged table and loads the batch again.
func (l *Loader) recoverTable(ctx context.Context, tg *target, b *batch, cause error) (int64, error) {
	if err := l.repairAndRebuild(ctx, tg, b.table, b.name, cause); err != nil {
		return 0, err
	}
	return l.loadStatement(ctx, tg, b)
}

// repairAndRebuild runs REPAIR TABLE, then a rebuild, always both. REPAIR
// makes the table usable at once, but MyISAM's repair drops the rows it
// cannot read, so the table is then always rebuilt from the sync_files,
// which hold every row: nothing is lost.
func (l *Loader) repairAndRebuild(ctx context.Context, tg *target, t *schema.Table, name string, cause error) error {
	l.cfg.Logger.Warn("table is damaged; repairing, then rebuilding from sync_files", "table", name, "shard", tg.name, "err", cause)
	l.stats.Repairs.Add(1)
	if err := mariadb.Repair(ctx, tg.db, name); err != nil {
		l.cfg.Logger.Warn("REPAIR TABLE failed; the rebuild replaces the table", "table", name, "err", err)
	}
	l.stats.Rebuilds.Add(1)
	_, err := tg.rebuild.Table(ctx, t.Letter, name[1:])
	return err
}

// CheckTables runs CHECK TABLE on the day tables of the given days
// (YYYYMMDD) and repairs and rebuilds those found damaged. Loader does it
// at its first pass: damage comes with crashes, and a damaged table that
// is only appended to would not show it.
func (l *Loader) CheckTables(ctx context.Context, days ...string) error {
	var errs []error
	for _, name := range l.set.Map().Names() {
		tg, err := l.target(ctx, name)
		if err == nil {
			err = l.checkTables(ctx, tg, days...)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (l *Loader) checkTables(ctx context.Context, tg *target, days ...string) error {
	tables, err := mariadb.Tables(ctx, tg.db)
	if err != nil {
		return err
	}
	for _, name := range tables {
		t, day, err := schema.ParseDayTable(name, time.Local)
		if err != nil || !slices.Contains(days, day.Format(schema.DayLayout)) {
			continue
		}
		cerr := mariadb.Check(ctx, tg.db, name)
		if cerr == nil {
			continue
		}
		if mariadb.IsUnavailable(cerr) {
			return cerr
		}
		if err := l.repairAndRebuild(ctx, tg, t, name, cerr); err != nil {
			l.cfg.Logger.Error("damaged table could not be rebuilt", "table", name, "err", err)
		}
	}
	return nil
}
