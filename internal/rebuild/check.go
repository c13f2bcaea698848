package rebuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
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

// Mismatch is one difference found by Check.
type Mismatch struct {
	Table   string
	Gateway string
	Files   Sum // rows and checksum of the sync_files
	Rows    Sum // rows and checksum of the table
	Problem string
	// Upgrade says the table has the columns of an earlier layout
	// (schema.Layout): Repair upgrades it in place rather than rebuild.
	Upgrade bool
}

func (m Mismatch) String() string {
	if m.Problem != "" {
		return fmt.Sprintf("%s: %s", m.Table, m.Problem)
	}
	if m.Files.Rows != m.Rows.Rows {
		return fmt.Sprintf("%s gw %s: %d rows in sync_files, %d in the table", m.Table, m.Gateway, m.Files.Rows, m.Rows.Rows)
	}
	return fmt.Sprintf("%s gw %s: %d rows in both, but their contents differ (checksum %016x in sync_files, %016x in the table)",
		m.Table, m.Gateway, m.Files.Rows, m.Files.Hash, m.Rows.Hash)
}

// Check compares, for every day table with sync_files, the rows in the
// files with the rows in the table, gateway by gateway, by count and by an
// order-independent checksum of their contents (see Sum), and runs CHECK
// TABLE. The returned mismatches are sorted by table.
func (r *Rebuilder) Check(ctx context.Context) ([]Mismatch, error) {
	days, err := r.scan()
	if err != nil {
		return nil, fmt.Errorf("scan sync_files: %w", err)
	}
	names := slices.Sorted(maps.Keys(days))
	var out []Mismatch
	for _, name := range names {
		m, err := r.checkTable(ctx, days[name])
		if err != nil {
			return out, err
		}
		out = append(out, m...)
	}
	return out, nil
}

// Repair rebuilds every table named in ms, once each, in order; it goes on
// past a table that fails and returns every failure.
func (r *Rebuilder) Repair(ctx context.Context, ms []Mismatch) ([]Result, error) {
	var results []Result
	var errs []error
	done := map[string]bool{}
	for _, m := range ms {
		if done[m.Table] {
			continue
		}
		done[m.Table] = true
		if m.Upgrade {
			if err := r.upgrade(ctx, m.Table); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		res, err := r.Table(ctx, m.Table[0], m.Table[1:])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		results = append(results, res)
	}
	return results, errors.Join(errs...)
}

// upgrade gives a day table of an earlier layout the current columns,
// holding its lock as loader does.
func (r *Rebuilder) upgrade(ctx context.Context, name string) error {
	t, _, err := schema.ParseDayTable(name, time.Local)
	if err != nil {
		return err
	}
	conn, err := r.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := mariadb.Lock(ctx, conn, name, 5*time.Minute); err != nil {
		return err
	}
	defer mariadb.Unlock(context.WithoutCancel(ctx), conn, name)
	if _, err := mariadb.EnsureTable(ctx, conn, t, name); err != nil {
		return err
	}
	r.logger().Info("day table upgraded to the current columns", "table", name)
	return nil
}

func (r *Rebuilder) checkTable(ctx context.Context, d *DayFiles) ([]Mismatch, error) {
	name := d.Name()
	exists, err := tableExists(ctx, r.DB, name)
	if err != nil {
		return nil, err
	}
	inFiles := make(map[string]Sum)
	var filesRows int64
	for gw, paths := range d.Files {
		s := FileSum(d.Table, gw, paths)
		inFiles[gw] = s
		filesRows += s.Rows
	}
	if !exists {
		if filesRows == 0 {
			return nil, nil
		}
		return []Mismatch{{Table: name, Files: Sum{Rows: filesRows}, Problem: fmt.Sprintf("table missing (%d rows in sync_files)", filesRows)}}, nil
	}
	if err := mariadb.Check(ctx, r.DB, name); err != nil {
		if mariadb.IsUnavailable(err) {
			return nil, err
		}
		return []Mismatch{{Table: name, Problem: fmt.Sprintf("CHECK TABLE: %v", err)}}, nil
	}
	have, err := mariadb.Columns(ctx, r.DB, name)
	if err != nil {
		return nil, err
	}
	if _, _, current, err := d.Table.UpgradeSelect(have); err != nil || !current {
		// Rows of an earlier layout have other meanings: sums would
		// differ whatever the rows. The table may hold rows whose files
		// are gone, so it is upgraded in place, not rebuilt.
		problem := "has the columns of an earlier layout; -repair upgrades it (loader does when it loads into it)"
		if err != nil {
			problem = err.Error()
		}
		return []Mismatch{{Table: name, Problem: problem, Upgrade: err == nil}}, nil
	}
	inTable, err := TableSums(ctx, r.DB, d.Table, name)
	if err != nil {
		if mariadb.IsUnavailable(err) {
			return nil, err
		}
		return []Mismatch{{Table: name, Problem: err.Error()}}, nil
	}
	var out []Mismatch
	for _, gw := range slices.Sorted(maps.Keys(gatewaySet(inFiles, inTable))) {
		if inFiles[gw] != inTable[gw] {
			out = append(out, Mismatch{Table: name, Gateway: gw, Files: inFiles[gw], Rows: inTable[gw]})
		}
	}
	return out, nil
}

func gatewaySet(a, b map[string]Sum) map[string]bool {
	gws := make(map[string]bool)
	for gw := range a {
		gws[gw] = true
	}
	for gw := range b {
		gws[gw] = true
	}
	return gws
}
