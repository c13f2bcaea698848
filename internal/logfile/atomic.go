package logfile

import "github.com/acstore/acstore/internal/fileutil"

// WriteFileAtomic publishes data at path through fileutil.WriteFile (write
// in tmpDir, fsync, rename, fsync the directory): a reader sees the whole
// file or none.
func WriteFileAtomic(path, tmpDir string, data []byte) error {
	return fileutil.WriteFile(path, tmpDir, data)
}

// RenameSync is fileutil.Rename: rename, then fsync the directory.
func RenameSync(from, to string) error { return fileutil.Rename(from, to) }

// SyncDir is fileutil.SyncDir.
func SyncDir(dir string) error { return fileutil.SyncDir(dir) }
