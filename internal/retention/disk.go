package retention

import (
	"errors"
	"flag"
	"fmt"
	"syscall"
)

// Watermarks are the disk levels, in percent of the filesystem holding the
// data root, at which a daemon starts dropping whole days. 0 turns a level
// off.
type Watermarks struct {
	High     float64 // drop the oldest shipped days until below
	Critical float64 // also drop unshipped days, oldest first, until below
}

// Attrs describe the effective retention for a start-up line: the days
// kept (0: every day) and the disk watermarks.
func (w Watermarks) Attrs(keepDays int) []any {
	keep := "all"
	if keepDays > 0 {
		keep = fmt.Sprintf("%d days", keepDays)
	}
	return []any{"keep", keep, "disk_high_pct", w.High, "disk_critical_pct", w.Critical}
}

// RegisterFlags adds -disk-high and -disk-critical to fs.
func (w *Watermarks) RegisterFlags(fs *flag.FlagSet) {
	fs.Float64Var(&w.High, "disk-high", 90, "percent of the data root's filesystem in use above which the oldest days already shipped to head office are dropped (sync_files, attachments, and this program's tables and state of them) until below; 0: off")
	fs.Float64Var(&w.Critical, "disk-critical", 97, "percent in use above which days not yet shipped are dropped too, oldest first, each logged as an error; today's day is never dropped; 0: off")
}

// Validate checks the levels.
func (w Watermarks) Validate() error {
	for _, v := range []struct {
		name string
		v    float64
	}{{"-disk-high", w.High}, {"-disk-critical", w.Critical}} {
		if v.v < 0 || v.v > 100 {
			return fmt.Errorf("%s %g: want a percentage between 0 (off) and 100", v.name, v.v)
		}
	}
	if w.High > 0 && w.Critical > 0 && w.Critical < w.High {
		return fmt.Errorf("-disk-critical %g is below -disk-high %g", w.Critical, w.High)
	}
	return nil
}

// Off reports whether neither level is set.
func (w Watermarks) Off() bool { return w.High == 0 && w.Critical == 0 }

// Used returns the percentage of the filesystem holding path that is in
// use, as df shows it: the blocks reserved for root count as not
// available, so 100 is the point where an unprivileged writer gets ENOSPC.
func Used(path string) (float64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("disk usage of %s: %w", path, err)
	}
	used := st.Blocks - st.Bfree
	total := used + st.Bavail
	if total == 0 {
		return 0, errors.New("disk usage of " + path + ": filesystem reports no blocks")
	}
	return 100 * float64(used) / float64(total), nil
}
