package fileutil

import (
	"os"
)

// FS is the file layer of every durable writer: the operations whose
// durability matters at a power cut. Production uses OS; a cut test uses a
// CutFS, which records what an fsync made durable and can drop the rest.
// Reads are not in it: they go to the os package directly.
type FS interface {
	// OpenFile is os.OpenFile (create, open for append, truncate).
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Rename(from, to string) error
	Remove(name string) error
	MkdirAll(dir string) error
	// SyncDir fsyncs a directory: the entries created, renamed or removed
	// in it survive a power cut.
	SyncDir(dir string) error
}

// File is a file opened for writing through an FS.
type File interface {
	Write(p []byte) (int, error)
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
	Name() string
}

// OS is the FS of the running system.
var OS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return f, nil
}

func (osFS) Rename(from, to string) error { return os.Rename(from, to) }
func (osFS) Remove(name string) error     { return os.Remove(name) }
func (osFS) MkdirAll(dir string) error    { return os.MkdirAll(dir, 0o755) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
