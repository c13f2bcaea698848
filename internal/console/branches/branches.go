// Package branches gathers the state the console's Branches page shows:
// per gateway, what datasync received and loaded at head office (its
// server state), what this appliance shipped (its client state), the
// sync_files waiting in the data root, and the disk the data root is on.
// It only reads; datasync owns these files.
package branches

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
)

// Gateway is one branch as head office sees it.
type Gateway struct {
	Gateway      string
	LastReceived string
	ReceivedAt   time.Time
	LastLoaded   string
	LoadedAt     time.Time
	// Lag is how far the last loaded window is behind now; Backlog the
	// windows received but not loaded yet.
	Lag       time.Duration
	Backlog   int
	LastError string
	SyncFiles int // sync_files on disk for the gateway
	SyncBytes int64
}

// Status is the whole page.
type Status struct {
	Gateways  []Gateway
	Client    *datasync.ClientStatus // nil when this is not a branch that pushes
	ClientErr string
	DiskTotal uint64
	DiskFree  uint64
	Root      string
	// PendingLoad is the load_files waiting for this appliance's loader,
	// OldestLoad the age of the oldest.
	PendingLoad int
	OldestLoad  time.Duration
}

// Read gathers the status of the data root.
func Read(root string, now time.Time) (*Status, error) {
	st := &Status{Root: root}
	var fsst syscall.Statfs_t
	if err := syscall.Statfs(root, &fsst); err == nil {
		st.DiskTotal = fsst.Blocks * uint64(fsst.Bsize)
		st.DiskFree = fsst.Bavail * uint64(fsst.Bsize)
	}
	files, err := syncFiles(root)
	if err != nil {
		return nil, err
	}
	gws, err := datasync.ReadServerState(root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	seen := map[string]bool{}
	for name, g := range gws {
		seen[name] = true
		gw := Gateway{Gateway: name, LastReceived: g.LastReceived, ReceivedAt: g.ReceivedAt,
			LastLoaded: g.LastLoaded, LoadedAt: g.LoadedAt, LastError: g.LastError}
		recv, err1 := time.ParseInLocation(datasync.WindowLayout, g.LastReceived, time.Local)
		load, err2 := time.ParseInLocation(datasync.WindowLayout, g.LastLoaded, time.Local)
		if err2 == nil {
			gw.Lag = now.Sub(load.Add(logfile.WindowLength))
		}
		if err1 == nil && err2 == nil && recv.After(load) {
			gw.Backlog = int(recv.Sub(load) / logfile.WindowLength)
		}
		gw.SyncFiles, gw.SyncBytes = int(files[name][0]), files[name][1]
		st.Gateways = append(st.Gateways, gw)
	}
	// Gateways with files but no server state: this appliance's own.
	for name, c := range files {
		if !seen[name] {
			st.Gateways = append(st.Gateways, Gateway{Gateway: name, SyncFiles: int(c[0]), SyncBytes: c[1]})
		}
	}
	sort.Slice(st.Gateways, func(i, j int) bool { return st.Gateways[i].Gateway < st.Gateways[j].Gateway })
	st.pendingLoads(root, now)
	if _, err := os.Stat(dataroot.Root(root).PushState()); err == nil {
		cs, err := datasync.ReadClientStatus(root, "")
		if err != nil {
			st.ClientErr = err.Error()
		} else {
			st.Client = cs
		}
	}
	return st, nil
}

// syncFiles counts the sync_files under root per gateway: how many, and
// their bytes. A root without sync_files has none.
func syncFiles(root string) (map[string][2]int64, error) {
	files := map[string][2]int64{}
	err := logfile.WalkSync(root, func(path string, n logfile.Name) error {
		c := files[n.Gateway]
		c[0]++
		if fi, err := os.Stat(path); err == nil {
			c[1] += fi.Size()
		}
		files[n.Gateway] = c
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return files, nil
}

// pendingLoads counts the load_files waiting under root and the age of the
// oldest.
func (st *Status) pendingLoads(root string, now time.Time) {
	if entries, err := os.ReadDir(logfile.LoadDir(root)); err == nil {
		for _, e := range entries {
			if filepath.Ext(e.Name()) != logfile.LoadExt {
				continue
			}
			st.PendingLoad++
			if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > st.OldestLoad {
				st.OldestLoad = now.Sub(fi.ModTime()).Round(time.Second)
			}
		}
	}
}
