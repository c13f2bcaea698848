package fileutil

// The file operations of a CutFS: each does the real operation and records
// what it changed, data or entries, as not yet durable until its fsync.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

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
