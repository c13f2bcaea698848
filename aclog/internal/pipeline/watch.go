package pipeline

import (
	"context"
	"os"

	"github.com/acstore/acstore/aclog/internal/source"
)

// watch follows the -watch directory until ctx ends: each capture that is
// complete is processed once, in order, and removed with -watch-delete.
func (r *run) watch(ctx context.Context) error {
	cfg := r.p.cfg
	w := source.Watcher{Dir: cfg.Watch, Poll: cfg.WatchPoll, Logger: cfg.Logger}
	return w.Run(ctx, func(path string) error {
		done, err := r.captureFile(ctx, path)
		if err != nil {
			return err
		}
		if done && cfg.WatchDelete {
			if err := os.Remove(path); err != nil {
				cfg.Logger.Warn("cannot delete a processed capture", "file", path, "err", err)
			}
		}
		r.tick()
		return nil
	}, r.idle)
}

// idle does the periodic work while no capture is complete.
func (r *run) idle() { r.tick() }
