// Package ledger records which files have been handled (loaded at head
// office, shipped by a branch), so a restart neither repeats a day of work
// nor skips a file.
//
// The ledger is a directory of append-only text files, one per day, a line
// "<name> <size>" per file. Each Add appends one line and fsyncs, so after a
// crash the ledger holds every file recorded before it; a torn last line
// (no newline) is ignored and cut off before the next append. A new day
// file's directory entry is fsynced too (TestLedgerPowerCut). Recording happens after the work, so a crash in between repeats
// that one file, which is harmless: every load is idempotent.
package ledger

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/acstore/acstore/internal/fileutil"
)

// Ledger is a set of (file name, size) pairs grouped by day. It is safe for
// concurrent use.
type Ledger struct {
	fsys fileutil.FS
	dir  string
	// mu guards what follows, and is held through Sync's fsyncs: a Sync
	// that returned must have made durable every Append before it, also
	// one that another goroutine's Sync was fsyncing at that moment.
	mu       sync.Mutex
	seen     map[string]int64
	files    map[string]fileutil.File
	dirty    map[string]bool  // days appended to since the last Sync
	dirDirty bool             // a day file created since the last Sync
	torn     map[string]int64 // day -> size of its whole lines, when its last line is torn
}

const ext = ".ledger"

// Open reads the ledger in dir, creating dir if needed.
func Open(dir string) (*Ledger, error) { return OpenFS(fileutil.OS, dir) }

// OpenFS is Open writing through fsys (a fileutil.CutFS in power-cut tests).
func OpenFS(fsys fileutil.FS, dir string) (*Ledger, error) {
	if err := fileutil.MkdirAllFS(fsys, dir); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l := &Ledger{fsys: fsys, dir: dir, seen: make(map[string]int64), files: make(map[string]fileutil.File), dirty: make(map[string]bool), torn: make(map[string]int64)}
	paths, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if err := l.read(p); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *Ledger) read(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var whole int64
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			// A last line without its newline was torn by a crash: even
			// if it parses ("name 10" of "name 1009"), it is not an entry,
			// and Append cuts it off before the next line completes it.
			if errors.Is(err, io.EOF) {
				if line != "" {
					l.torn[strings.TrimSuffix(filepath.Base(path), ext)] = whole
				}
				return nil
			}
			return fmt.Errorf("ledger: %w", err)
		}
		whole += int64(len(line))
		name, size, ok := strings.Cut(line[:len(line)-1], " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok || err != nil {
			continue // the empty line before each entry, or one torn by a crash
		}
		l.seen[name] = n
	}
}

// Has reports whether name was recorded with this size.
func (l *Ledger) Has(name string, size int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.seen[name]
	return ok && n == size
}

// Size returns the size recorded for name.
func (l *Ledger) Size(name string) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.seen[name]
	return n, ok
}

// Add records name with its size under day (YYYYMMDD) and fsyncs.
func (l *Ledger) Add(day, name string, size int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.appendLocked(day, name, size); err != nil {
		return err
	}
	return l.syncLocked()
}

// Append records name like Add but leaves the fsync to Sync, so a batch of
// files costs one fsync. Until Sync, a crash may forget the entry, which
// only repeats work.
func (l *Ledger) Append(day, name string, size int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendLocked(day, name, size)
}

func (l *Ledger) appendLocked(day, name string, size int64) error {
	if strings.ContainsAny(name, " \n") {
		return fmt.Errorf("ledger: bad name %q", name)
	}
	f := l.files[day]
	if f == nil {
		path := filepath.Join(l.dir, day+ext)
		if _, err := os.Stat(path); err != nil {
			l.dirDirty = true // a new day file: its entry needs a directory fsync
		}
		var err error
		f, err = l.fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		l.files[day] = f
		l.dirty[day] = true
		if size, ok := l.torn[day]; ok {
			if err := f.Truncate(size); err != nil {
				return fmt.Errorf("ledger: cut the torn line of %s: %w", path, err)
			}
			delete(l.torn, day)
		}
	}
	// A torn line from a crash would swallow this one: start it on a line
	// of its own.
	if _, err := fmt.Fprintf(f, "\n%s %d\n", name, size); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	l.dirty[day] = true
	l.seen[name] = size
	return nil
}

// Sync fsyncs what Append wrote.
func (l *Ledger) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syncLocked()
}

func (l *Ledger) syncLocked() error {
	for day := range l.dirty {
		if err := l.files[day].Sync(); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		delete(l.dirty, day)
	}
	if l.dirDirty {
		if err := fileutil.SyncDirFS(l.fsys, l.dir); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		l.dirDirty = false
	}
	return nil
}

// DropBefore forgets the days before day (YYYYMMDD), for retention.
func (l *Ledger) DropBefore(day string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	paths, err := filepath.Glob(filepath.Join(l.dir, "*"+ext))
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		d := strings.TrimSuffix(filepath.Base(p), ext)
		if d >= day {
			continue
		}
		if f := l.files[d]; f != nil {
			f.Close()
			delete(l.files, d)
			delete(l.dirty, d)
		}
		if err := l.fsys.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for name := range l.seen {
		if len(name) >= 8 && name[:8] < day {
			delete(l.seen, name)
		}
	}
	return errors.Join(errs...)
}

// DropDay forgets one day (YYYYMMDD), for retention.
func (l *Ledger) DropDay(day string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.files[day]; f != nil {
		f.Close()
		delete(l.files, day)
		delete(l.dirty, day)
	}
	if err := l.fsys.Remove(filepath.Join(l.dir, day+ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ledger: %w", err)
	}
	for name := range l.seen {
		if len(name) >= 8 && name[:8] == day {
			delete(l.seen, name)
		}
	}
	return nil
}

// Close closes the ledger's files.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, f := range l.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
