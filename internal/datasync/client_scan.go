package datasync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
)

// localFile is a published sync_file of the branch.
type localFile struct {
	name  logfile.Name
	path  string
	size  int64
	mtime time.Time
}

// window is the published files of one window, in shipping order, and how
// many of its files are still open (.part).
type window struct {
	name  string
	files []localFile
	parts int
}

// scan lists the windows from the recheck horizon on, oldest first.
func (c *Client) scan() ([]*window, error) {
	horizon := c.horizon()
	dir := dataroot.Root(c.cfg.Root).SyncGateway(c.cfg.Gateway)
	days, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	byName := make(map[string]*window)
	c.scannedDays = make(map[string]int64, len(days))
	for _, d := range days {
		if !d.IsDir() || len(d.Name()) != 8 {
			continue
		}
		var mtime int64
		if fi, err := d.Info(); err == nil {
			mtime = fi.ModTime().UnixNano()
		}
		c.scannedDays[d.Name()] = mtime
		old := horizon != "" && d.Name() < horizon[:8]
		if old {
			if prev, ok := c.st.Days[d.Name()]; c.st.Days == nil || ok && prev == mtime {
				continue // shipped, and unchanged since
			}
			c.log.Info("a day before the recheck horizon changed (an old capture replayed?); checking its files", "day", d.Name())
		}
		if err := c.scanDay(filepath.Join(dir, d.Name()), horizon, old, byName); err != nil {
			return nil, err
		}
	}
	wins := make([]*window, 0, len(byName))
	for _, w := range byName {
		sort.Slice(w.files, func(i, j int) bool {
			return shipRank(w.files[i].name.Table) < shipRank(w.files[j].name.Table)
		})
		wins = append(wins, w)
	}
	sort.Slice(wins, func(i, j int) bool { return wins[i].name < wins[j].name })
	return wins, nil
}

// scanDay adds the sync and part files of the gateway in the day
// directory dayDir to their windows in byName: those of windows from
// horizon on, or all of them when the day is old (before the horizon).
func (c *Client) scanDay(dayDir, horizon string, old bool, byName map[string]*window) error {
	entries, err := os.ReadDir(dayDir)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	for _, e := range entries {
		base := e.Name()
		part := strings.HasSuffix(base, logfile.PartExt)
		if !part && !strings.HasSuffix(base, logfile.SyncExt) {
			continue
		}
		n, err := logfile.ParseName(base, time.Local)
		if err != nil || n.Gateway != c.cfg.Gateway {
			continue
		}
		wn := windowName(n.Window)
		if wn < horizon && !old {
			continue
		}
		w := byName[wn]
		if w == nil {
			w = &window{name: wn}
			byName[wn] = w
		}
		if part {
			w.parts++
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone meanwhile: rescanned next pass
		}
		w.files = append(w.files, localFile{name: n, path: filepath.Join(dayDir, base), size: fi.Size(), mtime: fi.ModTime()})
	}
	return nil
}

// horizon is the oldest window scanned: the recheck period before the
// watermark.
func (c *Client) horizon() string {
	if c.st.Watermark == "" {
		return ""
	}
	w, err := time.ParseInLocation(WindowLayout, c.st.Watermark, time.Local)
	if err != nil {
		return ""
	}
	return windowName(w.Add(-c.cfg.Recheck))
}

// recheck re-ships the files of an already committed window that grew
// since (late rows) or that the state does not list.
func (c *Client) recheck(ctx context.Context, w *window) error {
	var changed []localFile
	for _, f := range w.files {
		if size, ok := c.st.Shipped[f.name.String()]; (!ok || size != f.size) && !c.quarantined(f) {
			changed = append(changed, f)
		}
	}
	if len(changed) == 0 || w.parts > 0 {
		return nil
	}
	c.log.Info("re-shipping files of a shipped window that changed", "window", w.name, "files", len(changed))
	return c.shipWindow(ctx, w)
}
