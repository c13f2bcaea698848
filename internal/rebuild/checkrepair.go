package rebuild

import (
	"context"
	"fmt"
	"io"
)

// CheckAndRepair is recover's -check [-repair]: it runs Check and writes
// each mismatch to w, one a line; without repair, a mismatch is an error
// that says how to fix it; with repair, it rebuilds (or upgrades) every
// table that does not match (Repair) and writes a line for each table
// rebuilt, returning every rebuild that failed.
func (r *Rebuilder) CheckAndRepair(ctx context.Context, repair bool, w io.Writer) error {
	ms, err := r.Check(ctx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		fmt.Fprintln(w, m)
	}
	if len(ms) == 0 {
		fmt.Fprintln(w, "all tables match their sync_files")
		return nil
	}
	if !repair {
		return fmt.Errorf("%d mismatch(es); run with -check -repair to rebuild them", len(ms))
	}
	results, err := r.Repair(ctx, ms)
	for _, res := range results {
		fmt.Fprintf(w, "rebuilt %s: %d rows from %d files\n", res.Table, res.Rows, res.Files)
	}
	return err
}
