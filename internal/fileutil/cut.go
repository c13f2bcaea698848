package fileutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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

// Root returns the tree the CutFS covers.
func (c *CutFS) Root() string { return c.root }
