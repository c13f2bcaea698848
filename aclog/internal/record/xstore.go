package record

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/xbundle"
)

// xWindow is the content a window's bundle will hold.
type xWindow struct {
	entries []xEntry
	bytes   int64
	seen    map[[32]byte]bool
}

type xEntry struct {
	name, typ string
	content   []byte
}

// storeX keeps content for the bundle of the window of ts and returns its
// sha256 in hex, or "-" when it is not kept (cut, too large, window full,
// or no data root).
func (r *Recorder) storeX(ts time.Time, name, typ string, content []byte, cut bool) string {
	if r.cfg.Root == "" {
		return "-"
	}
	if cut || len(content) > r.cfg.XMaxFile {
		r.stats.XCutFile++
		return "-"
	}
	sum := sha256.Sum256(content)
	w0 := logfile.WindowStart(ts)
	w := r.xwin[w0]
	if w == nil {
		w = &xWindow{seen: make(map[[32]byte]bool)}
		r.xwin[w0] = w
	}
	if !w.seen[sum] {
		if w.bytes+int64(len(content)) > r.cfg.XMaxWindow {
			r.stats.XCutWindow++
			return "-"
		}
		w.seen[sum] = true
		w.bytes += int64(len(content))
		w.entries = append(w.entries, xEntry{name: name, typ: typ, content: content})
		r.stats.XFiles++
		r.stats.XBytes += uint64(len(content))
	}
	return hex.EncodeToString(sum[:])
}

// flushX writes the bundles of the windows due at now (all when now is
// zero).
func (r *Recorder) flushX(now time.Time) {
	var due []time.Time
	for w := range r.xwin {
		if now.IsZero() || !w.Add(logfile.WindowLength+r.cfg.XGrace).After(now) {
			due = append(due, w)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].Before(due[j]) })
	for _, w := range due {
		if err := r.writeBundle(w, r.xwin[w]); err != nil {
			r.stats.XErrors++
			r.errs++
			r.lastEr = err
		}
		delete(r.xwin, w)
	}
}

// writeBundle writes the window's X file atomically: into a temporary
// file beside it (which datasync ignores: it is not a .dat), fsynced, then
// renamed. A bundle already published for the window (late content) is
// rewritten with its entries first, so nothing it held is lost.
func (r *Recorder) writeBundle(w0 time.Time, w *xWindow) (err error) {
	path := logfile.Name{Window: w0, Gateway: r.cfg.Gateway, Table: 'X'}.Path(r.cfg.Root)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := fileutil.Create(path, dir)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	bw, err := xbundle.NewWriter(f)
	if err != nil {
		return err
	}
	if old, err := os.Open(path); err == nil {
		fi, _ := old.Stat()
		if rd, err := xbundle.NewReader(old, fi.Size()); err == nil {
			for _, e := range rd.Entries() {
				if data, err := rd.Content(e); err == nil {
					if _, err := bw.Add(e.Name, e.Type, data); err != nil {
						old.Close()
						return err
					}
				}
			}
		}
		old.Close()
	}
	for _, e := range w.entries {
		if _, err := bw.Add(clip(e.name, xbundle.MaxNameLen), clip(e.typ, xbundle.MaxTypeLen), e.content); err != nil {
			return err
		}
	}
	if err := bw.Close(); err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return err
	}
	r.stats.XBundles++
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
