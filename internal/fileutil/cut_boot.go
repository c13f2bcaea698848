package fileutil

// What a boot after a power cut finds: the durable image of a CutFS
// written back over the tree.

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
)

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
	c.countLost(&r)
	paths, gone, err := c.scan(&r)
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
	b := boot{rng: rng, r: &r, kept: make(map[*inode][]byte)}
	for d, m := range c.durable {
		if !c.durableDir(d) {
			continue
		}
		for n, ino := range m {
			if err := os.WriteFile(filepath.Join(d, n), b.keep(ino), 0o644); err != nil {
				return r, fmt.Errorf("cut: %w", err)
			}
		}
	}
	for _, ino := range c.files {
		b.keep(ino) // count the data lost with its entry
	}
	sort.Strings(r.Outside)
	return r, nil
}

// countLost counts the entries that differ between now and the durable
// image (an entry is kept only under directories that are durable
// themselves), and the directories not durable.
func (c *CutFS) countLost(r *CutReport) {
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
}

// scan lists the files under the root (all removed, the durable ones to
// be written back) and the directories that a boot would not find, and
// reports in r what was written without this layer.
func (c *CutFS) scan(r *CutReport) (paths, gone []string, err error) {
	err = filepath.WalkDir(c.root, func(path string, d fs.DirEntry, err error) error {
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
	return paths, gone, err
}

// boot decides what each file holds at boot, once per file.
type boot struct {
	rng  *rand.Rand
	r    *CutReport
	kept map[*inode][]byte
}

// keep returns what ino holds at boot: its synced data, and when the
// unsynced data only appends to it, a random prefix of the appended tail
// half of the time (a torn write).
func (b boot) keep(ino *inode) []byte {
	if data, ok := b.kept[ino]; ok {
		return data
	}
	data := ino.synced
	if len(ino.data) > len(data) && string(ino.data[:len(data)]) == string(data) {
		extra := len(ino.data) - len(data)
		n := 0
		if b.rng.IntN(2) == 0 {
			n = b.rng.IntN(extra + 1)
		}
		if n > 0 {
			b.r.TornFiles++
		}
		b.r.LostBytes += extra - n
		data = ino.data[:len(data)+n]
	} else if string(ino.data) != string(data) {
		b.r.LostBytes += len(ino.data)
	}
	b.kept[ino] = data
	return data
}
