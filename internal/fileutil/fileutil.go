// Package fileutil is acstore's one way to publish a file so that a crash
// or a power cut leaves either the old file or the whole new one: write a
// temporary file beside it, fsync it, rename it into place, fsync the
// directory. Every writer that publishes whole files (sync_file tags, the
// X bundles, the ledgers' snapshots, datasync's and midtable's state) goes
// through it instead of a hand-written copy of those four steps.
package fileutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile publishes data at path: it writes a temporary file in tmpDir
// (which must be on the same file system as path), fsyncs it, renames it
// into place and fsyncs the directory. A reader sees the whole file or
// none.
func WriteFile(path, tmpDir string, data []byte) error {
	f, err := Create(path, tmpDir)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Commit()
}

// File is a file being written that appears at its path only on Commit.
type File struct {
	*os.File
	path string
}

// Create starts a file to be published at path, writing it in tmpDir (on
// the same file system; created if missing). Write to it, then Commit, or
// Abort to leave nothing behind.
func Create(path, tmpDir string) (*File, error) {
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(tmpDir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{File: f, path: path}, nil
}

// Commit fsyncs the file, renames it to its path and fsyncs the directory.
// On error the temporary file is removed.
func (f *File) Commit() error {
	if err := f.Sync(); err != nil {
		f.Abort()
		return fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := Rename(f.Name(), f.path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// Abort closes and removes the temporary file.
func (f *File) Abort() {
	f.Close()
	os.Remove(f.Name())
}

// Rename renames and then fsyncs the target directory, so that the rename
// survives a power cut.
func Rename(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(to))
}

// SyncDir fsyncs a directory: the entries created, renamed or removed in
// it survive a power cut.
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
