package logfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic publishes data at path: it writes a temporary file in
// tmpDir (which must be on the same file system), fsyncs it, renames it into
// place and fsyncs the directory. A reader sees the whole file or none.
func WriteFileAtomic(path, tmpDir string, data []byte) (err error) {
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(tmpDir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return RenameSync(f.Name(), path)
}

// RenameSync renames and then fsyncs the target directory, so that the
// rename survives a power cut.
func RenameSync(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(to))
}

// SyncDir fsyncs a directory.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
