package source

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Watcher follows a directory that tcpdump rotates captures into
// (tcpdump -G or -C with -w DIR/...). A capture is complete when a later
// one exists (tcpdump closes a file before it opens the next), or when no
// process has it open and it did not change since the previous look (the
// last file, once tcpdump stopped). Complete captures are handed over in
// natural name order, which is time order for tcpdump's names; each once
// per Run (the ledger remembers them across runs).
type Watcher struct {
	Dir    string
	Poll   time.Duration
	Logger *slog.Logger
}

type fileState struct {
	size  int64
	mtime time.Time
}

// Run calls process with the path of each complete capture until ctx
// ends or process fails, and idle after each look.
func (w *Watcher) Run(ctx context.Context, process func(path string) error, idle func()) error {
	handed := make(map[string]fileState) // processed in this run
	prev := make(map[string]fileState)   // seen at the previous look
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		names, err := Captures(w.Dir)
		if err != nil {
			return err
		}
		now := make(map[string]fileState, len(names))
		for _, n := range names {
			if fi, err := os.Stat(filepath.Join(w.Dir, n)); err == nil {
				now[n] = fileState{fi.Size(), fi.ModTime()}
			}
		}
		for i, n := range names {
			st, ok := now[n]
			if !ok || handed[n] == st {
				continue
			}
			path := filepath.Join(w.Dir, n)
			if i == len(names)-1 && !(prev[n] == st && !openByAnyProcess(path)) {
				break // still being written
			}
			if err := process(path); err != nil {
				return err
			}
			handed[n] = st
		}
		for n := range handed {
			if _, ok := now[n]; !ok {
				delete(handed, n) // deleted: forget it
			}
		}
		prev = now
		idle()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// openByAnyProcess reports whether a process has path open, by the
// links in /proc/*/fd. Where /proc cannot be read it says no, and a file
// then counts as complete once it stopped changing for one poll.
func openByAnyProcess(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && l == abs {
			return true
		}
	}
	return false
}
