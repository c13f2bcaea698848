package retention

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
)

// Shipped is what datasync push has shipped from a data root, as its
// state file (state/datasync/client.json) records it: a watermark (the
// last window committed; windows go in order, so every window up to it is
// shipped) and the sizes of the files shipped within its recheck horizon
// (a file that grew since, with late rows, is shipped again).
type Shipped struct {
	// Configured is false when push has never run on this root: then
	// nothing waits to be shipped and every day counts as shipped.
	Configured bool
	Gateway    string
	Watermark  string // YYYYMMDD_HHMM; "" before the first window
	sizes      map[string]int64
	oldest     string // oldest window in sizes
	// days: each day directory's modification time when push last
	// finished a pass. Push skips a day before its recheck horizon only
	// when it is unchanged since; one that changed (an old capture
	// replayed) waits to be shipped, whatever the watermark says. Nil in
	// a state written before push kept it.
	days map[string]int64
}

// ClientStatePath is where datasync push keeps its state on a data root.
func ClientStatePath(root string) string {
	return dataroot.Root(root).PushState()
}

// ReadShipped reads push's state on root. An unreadable state means push
// is configured but nothing can be counted as shipped: the error is
// returned with a Shipped that protects every day.
func ReadShipped(root string) (*Shipped, error) {
	data, err := os.ReadFile(ClientStatePath(root))
	if errors.Is(err, fs.ErrNotExist) {
		return &Shipped{}, nil
	}
	s := &Shipped{Configured: true}
	if err != nil {
		return s, fmt.Errorf("datasync state: %w", err)
	}
	var st struct {
		Gateway   string           `json:"gateway"`
		Watermark string           `json:"watermark"`
		Shipped   map[string]int64 `json:"shipped"`
		Days      map[string]int64 `json:"days"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return s, fmt.Errorf("datasync state %s: %w (every day is kept as unshipped)", ClientStatePath(root), err)
	}
	s.Gateway, s.Watermark, s.sizes, s.days = st.Gateway, st.Watermark, st.Shipped, st.Days
	for name := range s.sizes {
		if w := window(name); s.oldest == "" || w < s.oldest {
			s.oldest = w
		}
	}
	return s, nil
}

// window is the YYYYMMDD_HHMM a sync_file name starts with.
func window(name string) string {
	if len(name) < 13 {
		return ""
	}
	return name[:13]
}

// File reports whether push has shipped the sync_file name (base name)
// with this size. A file of a window up to the watermark is shipped unless
// the state lists it with another size (it grew; push ships it again) or,
// within the state's horizon, does not list it (push has yet to recheck
// it).
func (s *Shipped) File(name string, size int64) bool {
	if !s.Configured {
		return true
	}
	w := window(name)
	if w == "" || w > s.Watermark {
		return false
	}
	if n, ok := s.sizes[name]; ok {
		return n == size
	}
	return s.oldest == "" || w < s.oldest
}

// Day reports whether every file under sync/<gw>/<day> on root has been
// shipped. An open (.part) file or another gateway's directory is not.
func (s *Shipped) Day(root, gw, day string) (bool, error) {
	if !s.Configured {
		return true, nil
	}
	if gw != s.Gateway {
		return false, nil
	}
	dir := dataroot.Root(root).SyncDay(gw, day)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if s.days != nil && (s.oldest == "" || day < s.oldest[:8]) {
		info, err := os.Stat(dir)
		if err != nil {
			return false, err
		}
		if m, ok := s.days[day]; !ok || m != info.ModTime().UnixNano() {
			return false, nil // changed since push last looked
		}
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, logfile.PartExt) {
			return false, nil
		}
		if !strings.HasSuffix(name, logfile.SyncExt) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if !s.File(name, info.Size()) {
			return false, nil
		}
	}
	return true, nil
}
