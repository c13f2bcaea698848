package loader

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// pending is one file to load and what to do once its rows are in.
type pending struct {
	path  string
	codec logfile.Codec
	size  int64
	done  func() error
}

// batch is files of one gateway for one day table.
type batch struct {
	table *schema.Table
	name  string // day table
	gw    string
	files []pending
	bytes int64
}

// scanLoad collects the load_files and backfill markers, in name order.
func (l *Loader) scanLoad() ([]*batch, error) {
	dir := logfile.LoadDir(l.cfg.Root)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	g := newGrouper(l.cfg)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, logfile.LoadExt):
			ln, err := logfile.ParseLoadName(name, time.Local)
			if err != nil {
				l.reject(path, err)
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			g.add(ln.Sync, pending{path: path, codec: logfile.Plain, size: info.Size(), done: removeFunc(path)})
		case strings.HasSuffix(name, logfile.BackfillExt):
			n, err := logfile.ParseName(strings.TrimSuffix(name, logfile.BackfillExt), time.Local)
			if err != nil {
				l.reject(path, err)
				continue
			}
			sync := n.Path(l.cfg.Root)
			info, err := os.Stat(sync)
			if err != nil {
				if _, perr := os.Stat(sync + ".part"); perr == nil {
					continue // its window is still open: load it once published
				}
				l.cfg.Logger.Warn("backfill marker without its sync_file (deleted by retention?)", "marker", name)
				os.Remove(path)
				continue
			}
			g.add(n, pending{path: sync, codec: logfile.LZ4, size: info.Size(), done: removeFunc(path)})
		}
	}
	return g.batches, nil
}

// scanSync collects the published sync_files of gw ("*": of every
// gateway) not yet in the ledger. At head office the tree holds every
// gateway's every day, so a day directory whose modification time has not
// changed since a scan found nothing new in it is not read again:
// publishing a file renames it into its directory, which changes that
// time.
func (l *Loader) scanSync(gw string) ([]*batch, error) {
	type file struct {
		path string
		n    logfile.Name
		size int64
	}
	var files []file
	// A directory changed this recently may change again within its
	// file system's timestamp granularity (a few ms on tmpfs, seconds
	// on some) without its time changing: it is read again.
	settled := time.Now().Add(-2 * time.Second)
	dirs, err := filepath.Glob(dataroot.Root(l.cfg.Root).SyncDay(gw, "[0-9]*"))
	if err != nil {
		return nil, err
	}
	for _, dir := range dirs {
		info, err := os.Stat(dir)
		if err != nil || !info.IsDir() {
			continue
		}
		if l.quiet(dir, info.ModTime()) {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		before := len(files)
		for _, e := range entries {
			n, err := logfile.ParseName(e.Name(), time.Local)
			if err != nil || !strings.HasSuffix(e.Name(), logfile.SyncExt) || n.Table == schema.Attachments {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if !l.ledger.Has(n.String(), fi.Size()) {
				files = append(files, file{filepath.Join(dir, e.Name()), n, fi.Size()})
			}
		}
		l.setQuiet(dir, info.ModTime(), len(files) == before && info.ModTime().Before(settled))
	}
	// Time order, then shipping order within a window.
	sort.Slice(files, func(i, j int) bool { return files[i].n.String() < files[j].n.String() })
	g := newGrouper(l.cfg)
	for _, f := range files {
		g.add(f.n, pending{path: f.path, codec: logfile.LZ4, size: f.size, done: func() error {
			return l.ledger.Append(f.n.Day(), f.n.String(), f.size)
		}})
	}
	return g.batches, nil
}

// quiet reports whether dir had nothing to load at a scan that saw it
// with this modification time.
func (l *Loader) quiet(dir string, mtime time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen, ok := l.quietDirs[dir]
	return ok && seen.Equal(mtime)
}

func (l *Loader) setQuiet(dir string, mtime time.Time, quiet bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if quiet {
		l.quietDirs[dir] = mtime
	} else {
		delete(l.quietDirs, dir)
	}
}

func removeFunc(path string) func() error {
	return func() error {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
}

// grouper puts files into batches per gateway and day table, keeping name
// order within each and the limits of one statement.
type grouper struct {
	cfg     Config
	open    map[string]*batch
	batches []*batch
}

func newGrouper(cfg Config) *grouper { return &grouper{cfg: cfg, open: make(map[string]*batch)} }

func (g *grouper) add(n logfile.Name, p pending) {
	key := n.Gateway + "/" + n.DayTable()
	b := g.open[key]
	if b == nil || len(b.files) >= g.cfg.MaxBatchFiles || b.bytes+p.size > int64(g.cfg.MaxBatchBytes) && len(b.files) > 0 {
		t, _ := schema.ByLetter(n.Table)
		b = &batch{table: t, name: n.DayTable(), gw: n.Gateway}
		g.open[key] = b
		g.batches = append(g.batches, b)
	}
	b.files = append(b.files, p)
	b.bytes += p.size
}
