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
