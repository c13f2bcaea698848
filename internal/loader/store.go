package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/acstore/acstore/internal/retention"
)

// store is the loader's view of a day besides its files: the tables on
// every shard (and the front's, through Front), and the ledger entries of
// head office.
type store struct{ l *Loader }

// Days lists the days with tables on any shard that answers; a shard that
// is down lists its days when it is back.
func (s store) Days(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	errs := s.l.set.Each(ctx, func(ctx context.Context, name string, db *sql.DB) error {
		days, err := retention.DBStore{DB: db}.Days(ctx)
		s.l.mu.Lock()
		defer s.l.mu.Unlock()
		for _, d := range days {
			seen[d] = true
		}
		return err
	})
	if len(errs) == len(s.l.set.Map().Shards) {
		return nil, joinErrs(errs)
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out, nil
}

// DropDay drops the day's tables on every shard and on the front; the
// ledger forgets the day only once every shard has dropped it, so a shard
// that was down has it dropped at a later pass.
func (s store) DropDay(ctx context.Context, day string) error {
	// No load into the day meanwhile (it would make its table again).
	mu := s.l.dayMu(day)
	mu.Lock()
	defer mu.Unlock()
	errs := s.l.set.Each(ctx, func(ctx context.Context, name string, db *sql.DB) error {
		return retention.DBStore{DB: db, Dropped: func(t string) { s.l.setCreated(name+"/"+t, false) }}.DropDay(ctx, day)
	})
	if err := joinErrs(errs); err != nil {
		return err
	}
	if s.l.cfg.Front != nil {
		if err := s.l.cfg.Front.DropDay(ctx, day); err != nil {
			return err
		}
	}
	if s.l.ledger != nil {
		return s.l.ledger.DropDay(day)
	}
	return nil
}

func joinErrs(m map[string]error) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(m)) {
		errs = append(errs, m[name])
	}
	return errors.Join(errs...)
}

// DeleteGatewayDay removes one gateway's rows from every day table of
// day, on every shard (the gateway's rows are on one; the others delete
// nothing), for head office's per-gateway quota. A shard that is down
// makes it fail, to be tried again. Rollup tables are midtable's
// (rollup.DeleteGatewayDay).
func (l *Loader) DeleteGatewayDay(ctx context.Context, gw, day string) error {
	mu := l.dayMu(day)
	mu.Lock()
	defer mu.Unlock()
	return joinErrs(l.set.Each(ctx, func(ctx context.Context, name string, db *sql.DB) error {
		if err := (retention.DBStore{DB: db}).DeleteGateway(ctx, gw, day); err != nil {
			return fmt.Errorf("shard %s: %w", name, err)
		}
		return nil
	}))
}
