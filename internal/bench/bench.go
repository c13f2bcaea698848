// Package bench measures acstore's throughputs next to references measured
// in the same run on the same machine, for `make bench`. Each measurement
// returns a Row of the printed table.
package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
)

// Row is one line of the table: a measured rate and what it is compared to.
type Row struct {
	Group     string
	Name      string
	Amount    float64 // units processed
	Unit      string  // "rows", "MB", ...
	Took      time.Duration
	Reference string // name of the row this one is compared with
	Note      string
	// Ratio, set by Pair, is the median of the rate ratios to Reference
	// measured run by run, with their min and max. Without it the ratio
	// is of the two rows' rates (one run each).
	Ratio Spread
	// Times, set by Repeat, is the spread of the seconds of its runs.
	Times Spread
}

// Rate is units per second.
func (r Row) Rate() float64 { return r.Amount / r.Took.Seconds() }

// Print writes rows as an aligned table with each row's ratio to its
// reference.
func Print(w io.Writer, rows []Row) {
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Group+"/"+r.Name] = r
	}
	fmt.Fprintf(w, "%-10s %-42s %12s %9s %16s  %s\n", "group", "measurement", "amount", "seconds", "rate", "vs reference")
	for _, r := range rows {
		ratio := ""
		if ref, ok := byName[r.Group+"/"+r.Reference]; ok && r.Reference != "" {
			if r.Ratio.Median != 0 {
				ratio = fmt.Sprintf("%.2fx (%.2f-%.2f, median of %d alternating runs) %s", r.Ratio.Median, r.Ratio.Min, r.Ratio.Max, r.Ratio.N, r.Reference)
			} else {
				ratio = fmt.Sprintf("%.2fx %s", r.Rate()/ref.Rate(), r.Reference)
			}
		}
		if r.Times.Median != 0 {
			ratio = strings.TrimSpace(fmt.Sprintf("%s  runs %.3f-%.3f s", ratio, r.Times.Min, r.Times.Max))
		}
		if r.Note != "" {
			ratio = strings.TrimSpace(ratio + "  " + r.Note)
		}
		fmt.Fprintf(w, "%-10s %-42s %12.0f %9.3f %11.0f %s/s  %s\n", r.Group, r.Name, r.Amount, r.Took.Seconds(), r.Rate(), r.Unit, ratio)
	}
}

// WriteRows writes n rows of table letter through a Spool into root,
// flushing every flushEvery rows (a load_file per flush).
func WriteRows(root, gw string, letter byte, n, flushEvery int, codec logfile.Codec) error {
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Codec: codec, MaxLoadBacklog: 1 << 30, MaxFrameBytes: 64 << 20})
	if err != nil {
		return err
	}
	tb, _ := schema.ByLetter(letter)
	g := rowgen.New(42, false)
	ts := time.Now().Truncate(time.Hour)
	for i := 0; i < n; i++ {
		if err := g.Row(sp, tb, ts.Add(time.Duration(i)*time.Microsecond)); err != nil {
			return err
		}
		if (i+1)%flushEvery == 0 {
			if err := sp.Flush(); err != nil {
				return err
			}
		}
	}
	return sp.Close()
}

// Codecs measures writing and reading sync_files with LZ4 and xz, each
// Runs times (Repeat: median and spread).
func Codecs(n int) ([]Row, error) {
	var rows []Row
	for _, c := range []logfile.Codec{logfile.LZ4, logfile.XZ} {
		root, err := os.MkdirTemp("", "acbench-codec-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(root)
		write := func() (time.Duration, error) {
			if err := os.RemoveAll(root); err != nil {
				return 0, err
			}
			start := time.Now()
			err := WriteRows(root, "C0DEC000", 'U', n, 20000, c)
			return time.Since(start), err
		}
		read := func() (time.Duration, error) {
			start := time.Now()
			read, err := countSyncRows(root)
			if err != nil {
				return 0, fmt.Errorf("%s read back: %w", c, err)
			}
			if read != n {
				return 0, fmt.Errorf("%s: %d rows read back, %d written", c, read, n)
			}
			return time.Since(start), nil
		}
		w, err := Repeat(Row{Group: "codec", Name: c.String() + " write (rows+encode+compress+fsync)", Unit: "MB"}, write)
		if err != nil {
			return nil, err
		}
		r, err := Repeat(Row{Group: "codec", Name: c.String() + " read (decompress, split rows)", Unit: "MB"}, read)
		if err != nil {
			return nil, err
		}
		plain, packed := dirSize(logfile.LoadDir(root)), int64(0)
		logfile.WalkSync(root, func(p string, _ logfile.Name) error {
			if fi, err := os.Stat(p); err == nil {
				packed += fi.Size()
			}
			return nil
		})
		mb := float64(plain) / 1e6
		w.Amount, r.Amount = mb, mb
		w.Note = fmt.Sprintf("size ratio %.2f (%.1f MB -> %.1f MB)", float64(plain)/float64(packed), mb, float64(packed)/1e6)
		rows = append(rows, w, r)
	}
	return rows, nil
}

// countSyncRows counts the rows of every sync_file under root.
func countSyncRows(root string) (int, error) {
	n := 0
	err := logfile.WalkSync(root, func(p string, _ logfile.Name) error {
		s, err := logfile.OpenRows(p, logfile.LZ4)
		if err != nil {
			return err
		}
		defer s.Close()
		rows := logfile.NewRows(s)
		for rows.Next() {
			n++
		}
		return rows.Err()
	})
	return n, err
}

// dirSize is the bytes of the plain files in dir.
func dirSize(dir string) int64 {
	var size int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			size += fi.Size()
		}
	}
	return size
}
