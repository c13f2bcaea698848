// Package rebuild restores day tables from the sync_files: one table after
// it was damaged, every table after the database was lost, and a check that
// compares the rows in the files with the rows in the tables. It is the
// library behind the recover program and what loader calls when REPAIR
// TABLE is not enough.
//
// A table is rebuilt into a shadow table which is then swapped in with one
// RENAME TABLE, so readers never see a missing or half-filled table.
package rebuild

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
)

// Rebuilder rebuilds day tables from the sync_files under Root.
type Rebuilder struct {
	Root   string
	DB     *sql.DB
	Logger *slog.Logger
	// Attempts is how many times a rebuild is tried before giving up
	// (recover and loader try three times).
	Attempts int
	// LockWait is how long to wait for a loader holding the table.
	LockWait time.Duration
	// Progress, if set, is told after each sync_file loaded into a shadow
	// table how many of the table's files are in.
	Progress func(table string, done, total int)
	// Keep, when set, tells which gateways' rows of a day (YYYYMMDD) DB
	// holds: at a head office past one server, each shard's rebuild and
	// check see only the sync_files of its own gateways.
	Keep func(gw, day string) bool
}

// scan is Scan narrowed to the gateways Keep keeps; days left without a
// gateway are dropped.
func (r *Rebuilder) scan() (map[string]*DayFiles, error) {
	days, err := Scan(r.Root)
	if err != nil || r.Keep == nil {
		return days, err
	}
	for name, d := range days {
		for gw := range d.Files {
			if !r.Keep(gw, d.Day) {
				delete(d.Files, gw)
			}
		}
		if len(d.Files) == 0 {
			delete(days, name)
		}
	}
	return days, nil
}

func (r *Rebuilder) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// DayFiles are the sync_files of one day table, by gateway.
type DayFiles struct {
	Table *schema.Table
	Day   string              // YYYYMMDD
	Files map[string][]string // gateway -> paths, in time order
}

// Name returns the day table's name.
func (d *DayFiles) Name() string { return string(d.Table.Letter) + d.Day }

// Scan finds the sync_files of every log table and day under root,
// including the .part files of open windows (their complete rows count).
func Scan(root string) (map[string]*DayFiles, error) {
	days := make(map[string]*DayFiles)
	add := func(path string, n logfile.Name) {
		t, ok := schema.ByLetter(n.Table)
		if !ok {
			return // the X bundle
		}
		d := days[n.DayTable()]
		if d == nil {
			d = &DayFiles{Table: t, Day: n.Day(), Files: make(map[string][]string)}
			days[n.DayTable()] = d
		}
		d.Files[n.Gateway] = append(d.Files[n.Gateway], path)
	}
	if err := logfile.WalkSync(root, func(path string, n logfile.Name) error { add(path, n); return nil }); err != nil {
		return nil, err
	}
	parts, err := filepath.Glob(filepath.Join(dataroot.Root(root).SyncDay("*", "*"), "*"+logfile.PartExt))
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		if n, err := logfile.ParseName(filepath.Base(p), time.Local); err == nil {
			add(p, n)
		}
	}
	for _, d := range days {
		for _, paths := range d.Files {
			sort.Strings(paths)
		}
	}
	return days, nil
}

// Result tells what a rebuild did.
type Result struct {
	Table    string
	Rows     int64
	Files    int
	Torn     int // files read only up to a torn or damaged tail
	Attempts int
}

// Table rebuilds the day table of letter for day (YYYYMMDD) from its
// sync_files, trying up to Attempts times.
func (r *Rebuilder) Table(ctx context.Context, letter byte, day string) (Result, error) {
	t, ok := schema.ByLetter(letter)
	if !ok {
		return Result{}, fmt.Errorf("unknown table letter %q (want one of %s)", letter, schema.ShipOrder)
	}
	days, err := r.scan()
	if err != nil {
		return Result{}, fmt.Errorf("scan sync_files: %w", err)
	}
	d := days[string(letter)+day]
	if d == nil {
		d = &DayFiles{Table: t, Day: day, Files: map[string][]string{}}
	}
	return r.rebuild(ctx, d)
}

func (r *Rebuilder) rebuild(ctx context.Context, d *DayFiles) (Result, error) {
	attempts := max(r.Attempts, 1)
	var err error
	for i := 1; i <= attempts; i++ {
		var res Result
		res, err = r.once(ctx, d)
		res.Attempts = i
		if err == nil {
			r.logger().Info("rebuilt table from sync_files", "table", res.Table, "rows", res.Rows,
				"files", res.Files, "torn_files", res.Torn, "attempt", i)
			return res, nil
		}
		r.logger().Warn("rebuild failed", "table", d.Name(), "attempt", i, "of", attempts, "err", err)
		if ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(i) * time.Second):
		}
	}
	return Result{Table: d.Name(), Attempts: attempts},
		fmt.Errorf("rebuild %s: gave up after %d attempts: %w", d.Name(), attempts, err)
}

// once builds the shadow table and swaps it in, holding the table's lock so
// that loader does not load into the table being replaced.
func (r *Rebuilder) once(ctx context.Context, d *DayFiles) (Result, error) {
	res := Result{Table: d.Name()}
	conn, err := r.DB.Conn(ctx)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	wait := r.LockWait
	if wait == 0 {
		wait = 5 * time.Minute
	}
	if err := mariadb.Lock(ctx, conn, d.Name(), wait); err != nil {
		return res, err
	}
	defer mariadb.Unlock(context.WithoutCancel(ctx), conn, d.Name())

	shadow := d.Name() + "_rebuild"
	old := d.Name() + "_old"
	if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(shadow)+", "+mariadb.Quote(old)); err != nil {
		return res, err
	}
	if err := mariadb.CreateTable(ctx, conn, d.Table, shadow); err != nil {
		return res, err
	}
	cols := d.Table.FileColumns()
	total := 0
	for _, paths := range d.Files {
		total += len(paths)
	}
	for _, gw := range slices.Sorted(maps.Keys(d.Files)) {
		files := &filesReader{table: d.Table, paths: d.Files[gw], done: func(path string, torn error) {
			res.Files++
			if r.Progress != nil {
				r.Progress(d.Name(), res.Files, total)
			}
			if torn != nil {
				res.Torn++
				r.logger().Warn("sync_file has a torn or damaged tail; its good rows were used", "file", path, "err", torn)
			}
		}}
		n, err := mariadb.Load(ctx, conn, shadow, cols, gw, files)
		files.Close()
		if err != nil {
			return res, fmt.Errorf("load the sync_files of %s into %s: %w", gw, shadow, err)
		}
		res.Rows += n
	}
	if err := swap(ctx, conn, d.Name(), shadow, old); err != nil {
		return res, err
	}
	return res, nil
}

// swap puts shadow in the place of table with one RENAME TABLE. A table too
// damaged to be renamed is dropped first.
func swap(ctx context.Context, conn *sql.Conn, table, shadow, old string) error {
	exists, err := tableExists(ctx, conn, table)
	if err != nil {
		return err
	}
	if exists {
		_, err = conn.ExecContext(ctx, "RENAME TABLE "+mariadb.Quote(table)+" TO "+mariadb.Quote(old)+
			", "+mariadb.Quote(shadow)+" TO "+mariadb.Quote(table))
		if err != nil {
			if _, derr := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(table)); derr != nil {
				return fmt.Errorf("swap in %s: %w; drop: %v", table, err, derr)
			}
			exists = false
		}
	}
	if !exists {
		if _, err := conn.ExecContext(ctx, "RENAME TABLE "+mariadb.Quote(shadow)+" TO "+mariadb.Quote(table)); err != nil {
			return fmt.Errorf("swap in %s: %w", table, err)
		}
	}
	_, err = conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(old))
	return err
}

func tableExists(ctx context.Context, db mariadb.Execer, table string) (bool, error) {
	rows, err := db.QueryContext(ctx, "SHOW TABLES LIKE '"+table+"'")
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := rows.Next()
	return found, rows.Err()
}

// All rebuilds every day table that has sync_files, after the database was
// lost. progress, if not nil, is called after each table.
func (r *Rebuilder) All(ctx context.Context, progress func(done, total int, res Result)) ([]Result, error) {
	days, err := r.scan()
	if err != nil {
		return nil, fmt.Errorf("scan sync_files: %w", err)
	}
	names := slices.Sorted(maps.Keys(days))
	var results []Result
	var errs []error
	for i, n := range names {
		res, err := r.rebuild(ctx, days[n])
		results = append(results, res)
		if err != nil {
			errs = append(errs, err)
		}
		if progress != nil {
			progress(i+1, len(names), res)
		}
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
	}
	return results, errors.Join(errs...)
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
