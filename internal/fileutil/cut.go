package fileutil

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// ErrCut is what every operation of a CutFS returns once the power is cut.
var ErrCut = errors.New("power cut")

// CutFS is an FS for power-cut tests. A real power cut cannot be produced
// on a test machine (SIGKILL keeps the page cache; dm-flakey and FUSE need
// privileges CI lacks), so CutFS does the real operations on the disk and
// records, as POSIX allows a file system to keep after a power loss, what
// is durable: the data of a file as of its last fsync, and the entries of
// a directory (files created, renamed, removed) as of its last fsync.
// Cut rewrites the tree as it would be found at boot: unsynced data and
// un-fsynced entries are gone, except a random prefix of unsynced appends
// (a torn write). A directory is an entry of its parent like a file: one
// made since its parent's last fsync is gone, and everything in it.
type CutFS struct {
	mu      sync.Mutex
	root    string
	ops     int
	cutAt   int // 0: never
	cut     bool
	files   map[string]*inode            // path now -> file
	durable map[string]map[string]*inode // dir -> name -> file, as of its last fsync
	dirs    map[string]bool              // dir -> whether its entry in its parent is durable

	// Skip, if set, makes the fsyncs at the sites it returns true for do
	// nothing: the test knob that shows each fsync is needed.
	Skip func(site string) bool
	// Sites counts the fsyncs done per site (see site).
	Sites map[string]int
}

type inode struct{ data, synced []byte }

// NewCutFS returns a CutFS over the tree at root, all of it taken as
// durable.
func NewCutFS(root string) (*CutFS, error) {
	c := &CutFS{root: filepath.Clean(root), files: make(map[string]*inode), durable: make(map[string]map[string]*inode),
		dirs: make(map[string]bool), Sites: make(map[string]int)}
	err := filepath.WalkDir(c.root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			c.dirs[path] = true
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		ino := &inode{data: b, synced: append([]byte(nil), b...)}
		c.files[path] = ino
		c.entries(filepath.Dir(path))[filepath.Base(path)] = ino
		return nil
	})
	return c, err
}

func (c *CutFS) entries(dir string) map[string]*inode {
	m := c.durable[dir]
	if m == nil {
		m = make(map[string]*inode)
		c.durable[dir] = m
	}
	return m
}

// CutAfter cuts the power at the n-th operation from now (it and all later
// ones fail with ErrCut and do nothing); 0 never cuts.
func (c *CutFS) CutAfter(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops, c.cutAt = 0, n
}

// Ops returns the operations done since CutAfter.
func (c *CutFS) Ops() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops
}

// Dead reports whether the power was cut.
func (c *CutFS) Dead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cut
}

func (c *CutFS) op() error {
	c.ops++
	if c.cut || (c.cutAt > 0 && c.ops >= c.cutAt) {
		c.cut = true
		return ErrCut
	}
	return nil
}

// OpenFile implements FS.
func (c *CutFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.op(); err != nil {
		return nil, err
	}
	name = filepath.Clean(name)
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	ino := c.files[name]
	if ino == nil {
		ino = &inode{}
		c.files[name] = ino
	}
	if flag&os.O_TRUNC != 0 {
		ino.data = ino.data[:0:0]
	}
	return &cutFile{f: f, c: c, ino: ino, append: flag&os.O_APPEND != 0}, nil
}

// Rename implements FS.
func (c *CutFS) Rename(from, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.op(); err != nil {
		return err
	}
	from, to = filepath.Clean(from), filepath.Clean(to)
	if _, ok := c.dirs[from]; ok {
		return fmt.Errorf("CutFS: rename of directory %s is not modelled", from)
	}
	if err := os.Rename(from, to); err != nil {
		return err
	}
	c.files[to] = c.files[from]
	delete(c.files, from)
	return nil
}

// Remove implements FS.
func (c *CutFS) Remove(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.op(); err != nil {
		return err
	}
	name = filepath.Clean(name)
	if err := os.Remove(name); err != nil {
		return err
	}
	delete(c.files, name)
	delete(c.dirs, name) // an empty directory: gone, durable or not
	return nil
}

// MkdirAll implements FS.
func (c *CutFS) MkdirAll(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.op(); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	var made []string
	for d := dir; d != c.root && strings.HasPrefix(d, c.root+string(filepath.Separator)); d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		made = append(made, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range made {
		c.dirs[d] = false // an entry of its parent, durable at its fsync
	}
	return nil
}

// SyncDir implements FS: the entries of dir now are what a cut keeps.
func (c *CutFS) SyncDir(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.op(); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	if c.skip() {
		return nil
	}
	m := make(map[string]*inode)
	for p, ino := range c.files {
		if filepath.Dir(p) == dir {
			m[filepath.Base(p)] = ino
		}
	}
	c.durable[dir] = m
	for d := range c.dirs {
		if filepath.Dir(d) == dir {
			c.dirs[d] = true
		}
	}
	return nil
}

// skip counts an fsync at its site and reports whether the knob drops it.
func (c *CutFS) skip() bool {
	s := site()
	c.Sites[s]++
	return c.Skip != nil && c.Skip(s)
}

// site names the code that asked for an fsync by the functions on the
// way (those of this package, then the first caller outside it), e.g.
// "SyncDirFS<RenameFS<logfile.(*Spool).close": stable across edits.
func site() string {
	pc := make([]uintptr, 16)
	frames := runtime.CallersFrames(pc[:runtime.Callers(3, pc)])
	var parts []string
	for {
		fr, more := frames.Next()
		fn := fr.Function[strings.LastIndexByte(fr.Function, '/')+1:]
		inside := strings.HasPrefix(fn, "fileutil.")
		if !strings.HasSuffix(fr.File, "/fileutil/cut.go") {
			if inside {
				fn = strings.TrimPrefix(fn, "fileutil.")
			}
			parts = append(parts, fn)
			if !inside {
				break
			}
		}
		if !more {
			break
		}
	}
	return strings.Join(parts, "<")
}

// CutReport says what a cut dropped.
type CutReport struct {
	LostBytes   int      // unsynced bytes dropped
	TornFiles   int      // files left with part of their unsynced tail
	LostEntries int      // directory entries whose change was not durable
	LostDirs    int      // directories made since their parent's last fsync
	Outside     []string // files and directories written without this layer, dropped
}

// InProgress reports whether the cut hit work not yet durable.
func (r CutReport) InProgress() bool {
	return r.LostBytes > 0 || r.LostEntries > 0 || r.TornFiles > 0 || r.LostDirs > 0
}

// durableDir reports whether dir's entry and its parents' are durable, up
// to the root.
func (c *CutFS) durableDir(dir string) bool {
	for d := dir; d != c.root; d = filepath.Dir(d) {
		if !c.dirs[d] || filepath.Dir(d) == d {
			return false
		}
	}
	return true
}

// Cut makes the tree under root what a boot after a power cut would find,
// using rng for torn writes. The CutFS is dead afterwards: make a new one.
func (c *CutFS) Cut(rng *rand.Rand) (CutReport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	var r CutReport
	// Count the entries that differ between now and the durable image: an
	// entry is kept only under directories that are durable themselves.
	now := make(map[string]map[string]*inode)
	for p, ino := range c.files {
		d := filepath.Dir(p)
		if now[d] == nil {
			now[d] = make(map[string]*inode)
		}
		now[d][filepath.Base(p)] = ino
	}
	for d, m := range now {
		for n, ino := range m {
			if c.durable[d][n] != ino || !c.durableDir(d) {
				r.LostEntries++
			}
		}
	}
	for d, m := range c.durable {
		for n := range m {
			if now[d][n] == nil && c.durableDir(d) {
				r.LostEntries++
			}
		}
	}
	for _, ok := range c.dirs {
		if !ok {
			r.LostDirs++
		}
	}
	// What each file holds at boot.
	kept := make(map[*inode][]byte)
	keep := func(ino *inode) []byte {
		if b, ok := kept[ino]; ok {
			return b
		}
		b := ino.synced
		if len(ino.data) > len(b) && string(ino.data[:len(b)]) == string(b) {
			extra := len(ino.data) - len(b)
			n := 0
			if rng.IntN(2) == 0 {
				n = rng.IntN(extra + 1)
			}
			if n > 0 {
				r.TornFiles++
			}
			r.LostBytes += extra - n
			b = ino.data[:len(b)+n]
		} else if string(ino.data) != string(b) {
			r.LostBytes += len(ino.data)
		}
		kept[ino] = b
		return b
	}
	var paths, gone []string
	err := filepath.WalkDir(c.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == c.root {
			return err
		}
		if d.IsDir() {
			if _, known := c.dirs[path]; !known {
				r.Outside = append(r.Outside, path+string(filepath.Separator))
			}
			if !c.durableDir(path) {
				gone = append(gone, path)
			}
			return nil
		}
		if c.files[path] == nil {
			r.Outside = append(r.Outside, path)
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return r, err
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			return r, fmt.Errorf("cut: %w", err)
		}
	}
	for _, d := range gone {
		if err := os.RemoveAll(d); err != nil {
			return r, fmt.Errorf("cut: %w", err)
		}
	}
	for d, m := range c.durable {
		if !c.durableDir(d) {
			continue
		}
		for n, ino := range m {
			if err := os.WriteFile(filepath.Join(d, n), keep(ino), 0o644); err != nil {
				return r, fmt.Errorf("cut: %w", err)
			}
		}
	}
	for _, ino := range c.files {
		keep(ino) // count the data lost with its entry
	}
	sort.Strings(r.Outside)
	return r, nil
}

type cutFile struct {
	f      *os.File
	c      *CutFS
	ino    *inode
	off    int64
	append bool
}

func (f *cutFile) Name() string               { return f.f.Name() }
func (f *cutFile) Stat() (os.FileInfo, error) { return f.f.Stat() }
func (f *cutFile) Close() error               { return f.f.Close() }

func (f *cutFile) Write(p []byte) (int, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.c.op(); err != nil {
		return 0, err
	}
	n, err := f.f.Write(p)
	ino := f.ino
	if f.append {
		f.off = int64(len(ino.data))
	}
	end := f.off + int64(n)
	if end > int64(len(ino.data)) {
		ino.data = append(ino.data, make([]byte, end-int64(len(ino.data)))...)
	}
	copy(ino.data[f.off:end], p[:n])
	f.off = end
	return n, err
}

func (f *cutFile) Truncate(size int64) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.c.op(); err != nil {
		return err
	}
	if err := f.f.Truncate(size); err != nil {
		return err
	}
	ino := f.ino
	if size <= int64(len(ino.data)) {
		ino.data = ino.data[:size:size]
	} else {
		ino.data = append(ino.data, make([]byte, size-int64(len(ino.data)))...)
	}
	return nil
}

func (f *cutFile) Sync() error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.c.op(); err != nil {
		return err
	}
	if f.c.skip() {
		return nil
	}
	f.ino.synced = append([]byte(nil), f.ino.data...)
	return nil
}

// Root returns the tree the CutFS covers.
func (c *CutFS) Root() string { return c.root }
