package logfile

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/acstore/acstore/internal/fileutil"
)

// loadAllowed says whether the window's rows flushed now are published as
// a load_file: not while loader is behind (then a backfill is owed
// instead).
func (s *Spool) loadAllowed(w *window) bool {
	if s.loadBacklog(LoadDir(s.cfg.Root)) >= s.cfg.MaxLoadBacklog {
		if !s.stats.LoadPaused {
			s.cfg.Logger.Warn("loader is behind: pausing load_files, sync_files go on", "backlog_limit", s.cfg.MaxLoadBacklog)
		}
		s.stats.LoadPaused = true
		w.backfill = true
		return false
	}
	if s.stats.LoadPaused {
		s.cfg.Logger.Info("loader caught up: load_files resume")
		s.stats.LoadPaused = false
	}
	return true
}

// writeLoad publishes rows as the load_file path (fileutil.WriteFileFS,
// chunk by chunk).
func (s *Spool) writeLoad(path, tmpDir string, rows *rowBuf) error {
	f, err := fileutil.CreateFS(s.cfg.FS, path, tmpDir)
	if err != nil {
		return err
	}
	if err := rows.writeTo(f); err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Commit()
}

func (s *Spool) loadBacklog(dir string) int {
	f, err := os.Open(dir)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(1024)
		for _, name := range names {
			if name[0] != '.' { // .tmp and .rejected
				n++
			}
		}
		if err != nil || n >= s.cfg.MaxLoadBacklog {
			return n
		}
	}
}

func (s *Spool) writeBackfill(n Name) error {
	dir := LoadDir(s.cfg.Root)
	path := filepath.Join(dir, n.String()+BackfillExt)
	// The marker is empty: only its directory entry needs to be durable.
	if err := fileutil.MkdirAllFS(s.cfg.FS, dir); err != nil {
		return fmt.Errorf("backfill marker for %s: %w", n, err)
	}
	f, err := s.cfg.FS.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("backfill marker for %s: %w", n, err)
	}
	f.Close()
	if err := fileutil.SyncDirFS(s.cfg.FS, dir); err != nil {
		return fmt.Errorf("backfill marker for %s: %w", n, err)
	}
	s.stats.Backfills++
	return nil
}
