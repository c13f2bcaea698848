package loader

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/acstore/acstore/internal/schema"
)

// syncFront brings the Spider front up to date when a day table was made
// since it last was; one run at a time does it. It lists every shard's
// tables, so it waits at most patience (0: for ever) for one that hangs.
func (l *Loader) syncFront(ctx context.Context, patience time.Duration) {
	if l.cfg.Front == nil {
		return
	}
	l.frontMu.Lock()
	defer l.frontMu.Unlock()
	if !l.frontDue.Load() || ctx.Err() != nil {
		return
	}
	if patience > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, patience)
		defer cancel()
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
