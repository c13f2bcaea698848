package loader

import (
	"context"
	"errors"
	"time"

	"github.com/acstore/acstore/internal/backoff"
	"github.com/acstore/acstore/internal/shard"
)

// Run loads every Interval until ctx ends, waiting with backoff while the
// database is away.
func (l *Loader) Run(ctx context.Context) error {
	backoff.Loop(ctx, l.cfg.Interval, time.Minute, func(ctx context.Context) error {
		// In the loop, not beside it: the ledger is the loader's alone.
		// Retention lists and drops tables on every shard: bounded, so a
		// shard that hangs delays only retention (tried again later).
		tctx, cancel := context.WithTimeout(ctx, l.cfg.ShardPatience)
		err := l.prune.Tick(tctx, time.Now())
		cancel()
		if err != nil && ctx.Err() == nil {
			l.cfg.Logger.Error("retention", "err", err)
		}
		res, err := l.RunPass(ctx)
		var de *shard.DownError
		if errors.As(err, &de) && de.Partial() {
			// The other shards loaded: keep their pace, retry these next pass.
			l.cfg.Logger.Warn("shard(s) unavailable; their gateways' files stay pending", "shards", de.Shards, "err", de.Err)
			return nil
		}
		if err != nil && res.Files > 0 && ctx.Err() == nil {
			// The pass loaded files before the server went away: the
			// server is new news, so the backoff starts again from its
			// shortest wait rather than growing over a long backlog.
			l.cfg.Logger.Warn("database lost in the middle of a pass; the rest stays pending", "loaded", res.Files, "err", err)
			return nil
		}
		return err
	}, func(err error, wait time.Duration) {
		l.cfg.Logger.Warn("database unavailable; files stay and will be loaded later", "err", err, "retry_in", wait.Round(time.Millisecond))
	})
	return nil
}

// Result sums up one pass.
type Result struct {
	Files, Batches int
	Rows           int64
	// Failed holds, per gateway, the first error of a batch that failed
	// (it is retried at the next pass).
	Failed map[string]error
}

// interleave orders batches round-robin over their gateways (keeping each
// gateway's own order), so that a gateway with a big backlog does not make
// every other one wait for all of it.
func interleave(batches []*batch) []*batch {
	var order []string
	by := make(map[string][]*batch)
	for _, b := range batches {
		if by[b.gw] == nil {
			order = append(order, b.gw)
		}
		by[b.gw] = append(by[b.gw], b)
	}
	if len(order) < 2 {
		return batches
	}
	out := make([]*batch, 0, len(batches))
	for i := 0; len(out) < len(batches); i++ {
		for _, gw := range order {
			if i < len(by[gw]) {
				out = append(out, by[gw][i])
			}
		}
	}
	return out
}
