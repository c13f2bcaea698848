package shard

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/acstore/acstore/internal/schema"
)

// Watch reloads the map of set from path on SIGHUP and whenever the file
// changes (its size, modification time or inode, looked at every poll),
// until ctx ends. A new map that does not load, does not validate or
// would move rows already loaded (CheckChange) is logged as an error and
// the map in use stays; the file is read again at its next change or
// SIGHUP. Programs call it in a goroutine of its own.
func Watch(ctx context.Context, set *Set, path string, poll time.Duration, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	last := stamp(path)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			last = stamp(path)
		case <-tick.C:
			now := stamp(path)
			if now == last {
				continue
			}
			last = now
		}
		Reload(set, path, time.Now(), log)
	}
}

// Reload reads the map at path and puts it in use in set if it may follow
// the one in use on now's day; otherwise it logs why and keeps the old
// map. It reports whether the map changed.
func Reload(set *Set, path string, now time.Time, log *slog.Logger) bool {
	m, err := Load(path)
	if err == nil {
		err = set.Replace(m, now.Format(schema.DayLayout))
	}
	if err != nil {
		log.Error("shard map not reloaded; the one in use stays", "file", path, "err", err)
		return false
	}
	log.Info("shard map reloaded", "file", path, "shards", m.Names(), "versions", len(m.Versions), "front", m.Front != "")
	return true
}

// fileStamp tells a file's versions apart without reading it.
type fileStamp struct {
	size, mtime int64
	ino         uint64
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{size: -1}
	}
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st
}
