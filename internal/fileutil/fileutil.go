// Package fileutil is acstore's one way to publish a file so that a crash
// or a power cut leaves either the old file or the whole new one: write a
// temporary file beside it, fsync it, rename it into place, fsync the
// directory. Every writer that publishes whole files (sync_file tags, the
// X bundles, the ledgers' snapshots, datasync's and midtable's state) goes
// through it instead of a hand-written copy of those four steps.
//
// The durable writers do their writes through an FS: OS in production (an
// interface call per operation, nothing more), CutFS in power-cut tests.
// A real power cut cannot be produced on a test machine (SIGKILL keeps the
// page cache), so CutFS is the one fake the project allows: it keeps only
// what POSIX promises survives, the data of a file as of its last fsync and
// a directory's entries as of the directory's last fsync.
package fileutil

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// WriteFile publishes data at path on the OS: see WriteFileFS.
func WriteFile(path, tmpDir string, data []byte) error { return WriteFileFS(OS, path, tmpDir, data) }

// WriteFileFS publishes data at path: it writes a temporary file in tmpDir
// (which must be on the same file system as path), fsyncs it, renames it
// into place and fsyncs the directory. A reader sees the whole file or
// none.
func WriteFileFS(fsys FS, path, tmpDir string, data []byte) error {
	f, err := CreateFS(fsys, path, tmpDir)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Commit()
}

// Publisher is a file being written that appears at its path only on Commit.
type Publisher struct {
	File
	fsys FS
	path string
}

// Create starts a file to be published at path on the OS: see CreateFS.
func Create(path, tmpDir string) (*Publisher, error) { return CreateFS(OS, path, tmpDir) }

// CreateFS starts a file to be published at path, writing it in tmpDir (on
// the same file system). The directory of path is made if missing, durably
// (MkdirAllFS), tmpDir plainly: a temporary file is lost at a cut anyway.
// Write to it, then Commit, or Abort to leave nothing behind.
func CreateFS(fsys FS, path, tmpDir string) (*Publisher, error) {
	if err := MkdirAllFS(fsys, filepath.Dir(path)); err != nil {
		return nil, err
	}
	if filepath.Clean(tmpDir) != filepath.Dir(path) {
		if err := fsys.MkdirAll(tmpDir); err != nil {
			return nil, err
		}
	}
	for {
		name := filepath.Join(tmpDir, filepath.Base(path)+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &Publisher{File: f, fsys: fsys, path: path}, nil
	}
}

// Commit fsyncs the file, renames it to its path and fsyncs the directory.
// On error the temporary file is removed.
func (f *Publisher) Commit() error {
	if err := f.Sync(); err != nil {
		f.Abort()
		return fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		f.fsys.Remove(f.Name())
		return err
	}
	if err := RenameFS(f.fsys, f.Name(), f.path); err != nil {
		f.fsys.Remove(f.Name())
		return err
	}
	return nil
}

// Abort closes and removes the temporary file.
func (f *Publisher) Abort() {
	f.Close()
	f.fsys.Remove(f.Name())
}

// Rename renames on the OS: see RenameFS.
func Rename(from, to string) error { return RenameFS(OS, from, to) }

// RenameFS renames and then fsyncs the target directory, so that the
// rename survives a power cut.
func RenameFS(fsys FS, from, to string) error {
	if err := fsys.Rename(from, to); err != nil {
		return err
	}
	return SyncDirFS(fsys, filepath.Dir(to))
}

// MkdirAll makes a directory durably on the OS: see MkdirAllFS.
func MkdirAll(dir string) error { return MkdirAllFS(OS, dir) }

// MkdirAllFS makes dir and its missing parents and fsyncs the parent of
// each one it made, top down: a directory is an entry of its parent, and
// a file made durable in a directory whose own entry a power cut drops is
// lost with it. A directory that exists is taken as durable, so two
// writers making the same new directory at once must be serialised by
// their caller (the second would publish before the first's fsync).
func MkdirAllFS(fsys FS, dir string) error {
	dir = filepath.Clean(dir)
	var made []string // deepest first
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		made = append(made, d)
	}
	if err := fsys.MkdirAll(dir); err != nil {
		return err
	}
	for i := len(made) - 1; i >= 0; i-- {
		if err := SyncDirFS(fsys, filepath.Dir(made[i])); err != nil {
			return err
		}
	}
	return nil
}

// SyncDir fsyncs a directory on the OS: see SyncDirFS.
func SyncDir(dir string) error { return SyncDirFS(OS, dir) }

// SyncDirFS fsyncs a directory: the entries created, renamed or removed in
// it survive a power cut.
func SyncDirFS(fsys FS, dir string) error {
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
