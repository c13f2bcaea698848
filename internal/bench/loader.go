package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rebuild"
	"github.com/acstore/acstore/internal/schema"
)

// Loader compares, on the same n A rows, each against the server reading
// the rows itself (LOAD DATA INFILE of one file holding them all):
//   - loader (LOAD DATA LOCAL streamed from the load_files);
//   - recover rebuilding the whole day table from the sync_files (shadow
//     table, swap);
//   - recover -check comparing the table with the sync_files (counts and
//     checksums, one scan of each).
//
// Row-by-row INSERT (MyISAM, and InnoDB autocommit as before 3.2) are
// timed once, on samples. Every trial checks that the table then holds
// exactly n rows.
func Loader(ctx context.Context, db *sql.DB, n int) ([]Row, error) {
	const gw = "BE0C4A11"
	tb, _ := schema.ByLetter('A')
	root, err := os.MkdirTemp("", "acbench-loader-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	if err := WriteRows(root, gw, 'A', n, 20000, logfile.LZ4); err != nil {
		return nil, err
	}
	// Keep the load_files: loader deletes what it loads, and each loader
	// trial gets them back as hard links.
	pristine := filepath.Join(root, "pristine")
	if err := os.Rename(logfile.LoadDir(root), pristine); err != nil {
		return nil, err
	}
	loads, _ := filepath.Glob(filepath.Join(pristine, "*"+logfile.LoadExt))
	all, size, err := concat(filepath.Join(root, "all.txt"), loads)
	if err != nil {
		return nil, err
	}
	os.Chmod(root, 0o755)
	os.Chmod(all, 0o644)
	dayTable := schema.DayTable('A', time.Now().Truncate(time.Hour))
	var drop []string
	defer func() {
		for _, t := range drop {
			db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+mariadb.Quote(t))
		}
	}()
	fresh := func(name string) error {
		drop = append(drop, name)
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(name)); err != nil {
			return err
		}
		return mariadb.CreateTable(ctx, db, tb, name)
	}
	holds := func(name string) error {
		var got int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+mariadb.Quote(name)).Scan(&got); err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("%s holds %d rows, want the %d generated", name, got, n)
		}
		return nil
	}
	cols := "`" + strings.Join(tb.FileColumns(), "`, `") + "`"
	infile := func() (time.Duration, error) {
		if err := fresh("bench_infile"); err != nil {
			return 0, err
		}
		start := time.Now()
		if _, err := db.ExecContext(ctx, "LOAD DATA INFILE '"+all+"' IGNORE INTO TABLE bench_infile CHARACTER SET binary ("+cols+") SET gw = '"+gw+"'"); err != nil {
			return 0, fmt.Errorf("server LOAD DATA INFILE: %w", err)
		}
		took := time.Since(start)
		return took, holds("bench_infile")
	}
	var statements int
	load := func() (time.Duration, error) {
		if err := fresh(dayTable); err != nil {
			return 0, err
		}
		if err := linkAll(loads, logfile.LoadDir(root)); err != nil {
			return 0, err
		}
		l, err := loader.New(loader.Config{Root: root}, db)
		if err != nil {
			return 0, err
		}
		defer l.Close()
		start := time.Now()
		res, err := l.RunOnce(ctx)
		took := time.Since(start)
		if err != nil {
			return 0, err
		}
		if res.Rows != int64(n) {
			return 0, fmt.Errorf("loader loaded %d rows, want %d", res.Rows, n)
		}
		statements = res.Batches
		return took, holds(dayTable)
	}
	rb := &rebuild.Rebuilder{Root: root, DB: db, Attempts: 1}
	rebuildDay := func() (time.Duration, error) {
		if err := fresh(dayTable); err != nil {
			return 0, err
		}
		start := time.Now()
		res, err := rb.Table(ctx, 'A', dayTable[1:])
		took := time.Since(start)
		if err != nil {
			return 0, err
		}
		if res.Rows != int64(n) {
			return 0, fmt.Errorf("rebuild loaded %d rows, want %d", res.Rows, n)
		}
		return took, holds(dayTable)
	}
	check := func() (time.Duration, error) {
		start := time.Now()
		ms, err := rb.Check(ctx)
		took := time.Since(start)
		if err != nil {
			return 0, err
		}
		if len(ms) != 0 {
			return 0, fmt.Errorf("recover -check found %v on a table just rebuilt", ms)
		}
		return took, nil
	}

	const ref = "server LOAD DATA INFILE (reference)"
	mb := float64(size) / 1e6
	refRow := Row{Group: "loader", Name: ref, Amount: float64(n), Unit: "rows", Note: fmt.Sprintf("%.0f MB of rows", mb)}
	rows, err := Pair(Row{Group: "loader", Name: fmt.Sprintf("loader, %d load_files", len(loads)), Amount: float64(n), Unit: "rows"},
		refRow, load, infile)
	if err != nil {
		return nil, err
	}
	rows[0].Note = fmt.Sprintf("%d statements", statements)
	rebuilt, err := Pair(Row{Group: "loader", Name: "recover: whole-day rebuild from sync_files", Amount: float64(n), Unit: "rows",
		Note: "target >= 0.80x"}, refRow, rebuildDay, infile)
	if err != nil {
		return nil, err
	}
	rows = append(rows, rebuilt[0])
	// -check reads the table just rebuilt.
	checked, err := Repeat(Row{Group: "loader", Name: "recover -check (counts + row checksums)", Amount: float64(n), Unit: "rows",
		Reference: ref}, check)
	if err != nil {
		return nil, err
	}
	rows = append(rows, checked)

	// Row-by-row INSERT, one run each on a sample.
	for _, s := range []struct {
		name, engine string
		sample       int
	}{{"row-by-row INSERT, MyISAM (one run, sample)", "MyISAM", min(n, 20000)}, {"row-by-row INSERT, InnoDB autocommit (pre-3.2; one run, sample)", "InnoDB", min(n, 5000)}} {
		table := "bench_insert_" + strings.ToLower(s.engine)
		drop = append(drop, table)
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(table)); err != nil {
			return nil, err
		}
		if _, err := db.ExecContext(ctx, strings.Replace(tb.CreateSQL(table), "ENGINE=MyISAM", "ENGINE="+s.engine, 1)); err != nil {
			return nil, err
		}
		took, err := insertRows(ctx, db, tb, table, all, gw, s.sample)
		if err != nil {
			return nil, err
		}
		rows = append(rows, Row{Group: "loader", Name: s.name, Amount: float64(s.sample), Unit: "rows", Took: took, Reference: ref})
	}
	return rows, nil
}

// concat writes the files one after the other into path.
func concat(path string, files []string) (string, int64, error) {
	out, err := os.Create(path)
	if err != nil {
		return "", 0, err
	}
	defer out.Close()
	var size int64
	for _, p := range files {
		in, err := os.Open(p)
		if err != nil {
			return "", 0, err
		}
		k, err := io.Copy(out, in)
		in.Close()
		if err != nil {
			return "", 0, err
		}
		size += k
	}
	return path, size, out.Close()
}

// linkAll hard-links files into dir.
func linkAll(files []string, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range files {
		if err := os.Link(p, filepath.Join(dir, filepath.Base(p))); err != nil {
			return err
		}
	}
	return nil
}

// insertRows inserts the first n rows of a load_file one statement each, as
// the appliance did before 3.2.
func insertRows(ctx context.Context, db *sql.DB, tb *schema.Table, table, path, gw string, n int) (time.Duration, error) {
	s, err := logfile.OpenRows(path, logfile.Plain)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	cols := tb.FileColumns()
	q := "INSERT IGNORE INTO " + mariadb.Quote(table) + " (gw, `" + strings.Join(cols, "`, `") + "`) VALUES (?" + strings.Repeat(", ?", len(cols)) + ")"
	stmt, err := db.PrepareContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	var batch [][]any
	rows := logfile.NewRows(s)
	for len(batch) < n && rows.Next() {
		fields, err := logfile.SplitRow(rows.Row())
		if err != nil {
			return 0, err
		}
		args := []any{gw}
		for _, f := range fields {
			if f.Null {
				args = append(args, nil)
			} else {
				args = append(args, string(f.Value))
			}
		}
		batch = append(batch, args)
	}
	start := time.Now()
	for _, args := range batch {
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return 0, fmt.Errorf("insert: %w", err)
		}
	}
	return time.Since(start), nil
}
