package datasync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/fileutil"
)

const stateVersion = 1

// ClientState is what a branch has shipped. It stays small: a watermark
// (the last window committed; windows go in order, so everything before it
// is shipped), the files of the windows within the recheck horizon before
// it (late rows can grow a published file), and the config md5s.
type ClientState struct {
	Version     int               `json:"version"`
	Gateway     string            `json:"gateway"`
	Watermark   string            `json:"watermark"`    // YYYYMMDD_HHMM, "" before the first window
	Shipped     map[string]int64  `json:"shipped"`      // file name -> size of the source file shipped
	ConfigMD5   map[string]string `json:"config_md5"`   // users.tsv -> md5 the server has
	LastShipped map[string]string `json:"last_shipped"` // table letter -> last window shipped
	LastSuccess time.Time         `json:"last_success"` // end of the last pass that shipped everything ready
	// Days holds each day directory's modification time (unix ns) when
	// the last pass that shipped everything began. A day older than the
	// recheck horizon is looked at again only when it changed: aclog -r
	// replaying an old capture writes windows there after newer ones were
	// shipped. nil (an older state file): such days count as shipped.
	Days        map[string]int64 `json:"days"`
	LastError   string           `json:"last_error,omitempty"`
	LastErrorAt time.Time        `json:"last_error_at"`
	// Quarantined are the files the server refused for their content
	// (file name -> why): they are not sent again unless they change.
	Quarantined map[string]Quarantined `json:"quarantined,omitempty"`
}

// Quarantined is a file set aside.
type Quarantined struct {
	Size   int64     `json:"size"` // of the file when it was refused
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

func statePath(root string) string {
	return dataroot.Root(root).PushState()
}

func newState(gw string) *ClientState {
	return &ClientState{Version: stateVersion, Gateway: gw, Shipped: make(map[string]int64),
		ConfigMD5: make(map[string]string), LastShipped: make(map[string]string), Quarantined: make(map[string]Quarantined)}
}

// errCorruptState marks a state file that could not be used.
var errCorruptState = errors.New("corrupt state file")

// ReadClientState reads the state file. A missing file is a fresh state
// (nil error, fresh=true); an unreadable or inconsistent one returns an
// error wrapping errCorruptState.
func ReadClientState(root, gw string) (st *ClientState, fresh bool, err error) {
	path := statePath(root)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(gw), true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("client state: %w", err)
	}
	st = newState(gw)
	if err := json.Unmarshal(data, st); err != nil {
		return nil, false, fmt.Errorf("%s: %w: %v", path, errCorruptState, err)
	}
	if st.Version != stateVersion || (gw != "" && st.Gateway != gw) {
		return nil, false, fmt.Errorf("%s: %w: version %d, gateway %q", path, errCorruptState, st.Version, st.Gateway)
	}
	if st.Watermark != "" {
		if _, err := time.ParseInLocation(WindowLayout, st.Watermark, time.Local); err != nil {
			return nil, false, fmt.Errorf("%s: %w: watermark %q", path, errCorruptState, st.Watermark)
		}
	}
	for _, m := range []*map[string]int64{&st.Shipped} {
		if *m == nil {
			*m = make(map[string]int64)
		}
	}
	if st.ConfigMD5 == nil {
		st.ConfigMD5 = make(map[string]string)
	}
	if st.LastShipped == nil {
		st.LastShipped = make(map[string]string)
	}
	if st.Quarantined == nil {
		st.Quarantined = make(map[string]Quarantined)
	}
	return st, false, nil
}

// setAside moves a corrupt state file out of the way, keeping it for a
// post-mortem, so the client rebuilds its state instead of failing again
// at every start.
func setAsideState(fsys fileutil.FS, root string) (string, error) {
	path := statePath(root)
	aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().UnixNano())
	if err := fsys.Rename(path, aside); err != nil {
		return "", err
	}
	return aside, nil
}

// save writes the state crash-safely: temporary file, fsync, rename, fsync
// of the directory.
func (st *ClientState) save(fsys fileutil.FS, root string) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	path := statePath(root)
	if err := fileutil.WriteFileFS(fsys, path, filepath.Dir(path), data); err != nil {
		return fmt.Errorf("save client state: %w", err)
	}
	return nil
}

// maxQuarantined is how many set-aside files the state remembers (the
// newest); the counter in the metrics keeps the total.
const maxQuarantined = 1000

// prune forgets the files of windows older than the recheck horizon, and
// the oldest quarantined files past maxQuarantined.
func (st *ClientState) prune(horizon string) {
	if n := len(st.Quarantined) - maxQuarantined; n > 0 {
		names := make([]string, 0, len(st.Quarantined))
		for name := range st.Quarantined {
			names = append(names, name)
		}
		sort.Strings(names) // names start with their window
		for _, name := range names[:n] {
			delete(st.Quarantined, name)
		}
	}
	for name := range st.Shipped {
		if len(name) >= 13 && name[:13] < horizon {
			delete(st.Shipped, name)
		}
	}
}
