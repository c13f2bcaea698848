// Package ledger records which files have been handled (loaded at head
// office, shipped by a branch), so a restart neither repeats a day of work
// nor skips a file.
//
// The ledger is a directory of append-only text files, one per day, a line
// "<name> <size>" per file. Each Add appends one line and fsyncs, so after a
// crash the ledger holds every file recorded before it; a torn last line is
// ignored. Recording happens after the work, so a crash in between repeats
// that one file, which is harmless: every load is idempotent.
package ledger

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Ledger is a set of (file name, size) pairs grouped by day. It is not safe
// for concurrent use.
type Ledger struct {
	dir   string
	seen  map[string]int64
	files map[string]*os.File
	dirty map[string]bool // days appended to since the last Sync
}

const ext = ".ledger"

// Open reads the ledger in dir, creating dir if needed.
func Open(dir string) (*Ledger, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l := &Ledger{dir: dir, seen: make(map[string]int64), files: make(map[string]*os.File), dirty: make(map[string]bool)}
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
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, size, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok || err != nil {
			continue // a line torn by a crash
		}
		l.seen[name] = n
	}
	return sc.Err()
}

// Has reports whether name was recorded with this size.
func (l *Ledger) Has(name string, size int64) bool {
	n, ok := l.seen[name]
	return ok && n == size
}

// Size returns the size recorded for name.
func (l *Ledger) Size(name string) (int64, bool) {
	n, ok := l.seen[name]
	return n, ok
}

// Add records name with its size under day (YYYYMMDD) and fsyncs.
func (l *Ledger) Add(day, name string, size int64) error {
	if err := l.Append(day, name, size); err != nil {
		return err
	}
	return l.Sync()
}

// Append records name like Add but leaves the fsync to Sync, so a batch of
// files costs one fsync. Until Sync, a crash may forget the entry, which
// only repeats work.
func (l *Ledger) Append(day, name string, size int64) error {
	if strings.ContainsAny(name, " \n") {
		return fmt.Errorf("ledger: bad name %q", name)
	}
	f := l.files[day]
	if f == nil {
		var err error
		f, err = os.OpenFile(filepath.Join(l.dir, day+ext), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		l.files[day] = f
		l.dirty[day] = true
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
	for day := range l.dirty {
		if err := l.files[day].Sync(); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		delete(l.dirty, day)
	}
	return nil
}

// DropBefore forgets the days before day (YYYYMMDD), for retention.
func (l *Ledger) DropBefore(day string) error {
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
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
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
	if f := l.files[day]; f != nil {
		f.Close()
		delete(l.files, day)
		delete(l.dirty, day)
	}
	if err := os.Remove(filepath.Join(l.dir, day+ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
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
	var errs []error
	for _, f := range l.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
