package logfile

import (
	"errors"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
)

// WalkSync calls fn for every published sync_file (not .part) under the data
// root, in no particular order.
func WalkSync(root string, fn func(path string, n Name) error) error {
	dir := dataroot.Root(root).Sync()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == dir {
				return nil
			}
			return err
		}
		if d.IsDir() || filepath.Ext(path) != SyncExt {
			return nil
		}
		n, err := ParseName(d.Name(), time.Local)
		if err != nil {
			return nil // not ours
		}
		return fn(path, n)
	})
	return err
}
