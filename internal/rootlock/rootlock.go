// Package rootlock makes sure one process of a program at a time works on
// a data root: two loaders would both append to the ledger, two aclogs to
// the same sync_files, two servers would race on incoming uploads.
//
// The lock is flock(2) on <root>/<program>.lock, which the kernel releases
// when the process dies however it dies, so a crash never leaves a stale
// lock behind. The holder writes its pid into the file, so the one refused
// can say who holds it.
package rootlock

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/acstore/acstore/internal/dataroot"
)

// Lock is a held lock.
type Lock struct {
	f    *os.File
	path string
}

// HeldError is returned when another process holds the lock.
type HeldError struct {
	Program, Root, Path string
	PID                 int // 0 when the holder's pid could not be read
}

func (e *HeldError) Error() string {
	who := "another " + e.Program
	if e.PID > 0 {
		who = fmt.Sprintf("another %s (pid %d)", e.Program, e.PID)
	}
	return fmt.Sprintf("%s is already running on data root %s (lock %s held); stop it first, or give this one another -data", who, e.Root, e.Path)
}

// Path is the lock file of program on root.
func Path(root, program string) string { return dataroot.Root(root).Lock(program) }

// Acquire takes program's lock on root without waiting, creating root if
// needed.
func Acquire(root, program string) (*Lock, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	path := Path(root, program)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{Program: program, Root: root, Path: path, PID: readPID(path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The pid is information for the refused, not the lock itself: a
	// failure to write it is not fatal.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f, path: path}, nil
}

// Release gives the lock up. The file stays: removing it would let a
// process that opened it just before lock a file no one else sees.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func readPID(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	return pid
}
