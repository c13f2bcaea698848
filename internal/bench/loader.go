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
	root, err := os.MkdirTemp("", "acbench-loader-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	b := &loadBench{ctx: ctx, db: db, root: root, n: n, dayTable: schema.DayTable('A', time.Now().Truncate(time.Hour))}
	b.tb, _ = schema.ByLetter('A')
	defer b.dropAll()
	if err := b.setUp(); err != nil {
		return nil, err
	}
	const ref = "server LOAD DATA INFILE (reference)"
	mb := float64(b.size) / 1e6
	refRow := Row{Group: "loader", Name: ref, Amount: float64(n), Unit: "rows", Note: fmt.Sprintf("%.0f MB of rows", mb)}
	rows, err := Pair(Row{Group: "loader", Name: fmt.Sprintf("loader, %d load_files", len(b.loads)), Amount: float64(n), Unit: "rows"},
		refRow, b.load, b.infile)
	if err != nil {
		return nil, err
	}
	rows[0].Note = fmt.Sprintf("%d statements", b.statements)
	rebuilt, err := Pair(Row{Group: "loader", Name: "recover: whole-day rebuild from sync_files", Amount: float64(n), Unit: "rows",
		Note: "target >= 0.80x"}, refRow, b.rebuildDay, b.infile)
	if err != nil {
		return nil, err
	}
	rows = append(rows, rebuilt[0])
	// -check reads the table just rebuilt.
	checked, err := Repeat(Row{Group: "loader", Name: "recover -check (counts + row checksums)", Amount: float64(n), Unit: "rows",
		Reference: ref}, b.check)
	if err != nil {
		return nil, err
	}
	rows = append(rows, checked)
	inserts, err := b.inserts(ref)
	if err != nil {
		return nil, err
	}
	return append(rows, inserts...), nil
}

// loadBench is one run of Loader: its data root, rows and tables.
type loadBench struct {
	ctx        context.Context
	db         *sql.DB
	root       string
	n          int
	tb         *schema.Table
	dayTable   string
	loads      []string // the load_files, kept aside
	all        string   // every row in one file, for the server
	size       int64    // its bytes
	drop       []string // every table the run makes, dropped at the end
	statements int      // loader's statements in its last trial
	rb         *rebuild.Rebuilder
}

const loadBenchGateway = "BE0C4A11"

// setUp writes the rows as load_files and sync_files, keeps the load_files
// aside (loader deletes what it loads, and each loader trial gets them back
// as hard links) and writes every row into one file for the server.
func (b *loadBench) setUp() error {
	if err := WriteRows(b.root, loadBenchGateway, 'A', b.n, 20000, logfile.LZ4); err != nil {
		return err
	}
	pristine := filepath.Join(b.root, "pristine")
	if err := os.Rename(logfile.LoadDir(b.root), pristine); err != nil {
		return err
	}
	b.loads, _ = filepath.Glob(filepath.Join(pristine, "*"+logfile.LoadExt))
	var err error
	b.all, b.size, err = concat(filepath.Join(b.root, "all.txt"), b.loads)
	if err != nil {
		return err
	}
	os.Chmod(b.root, 0o755)
	os.Chmod(b.all, 0o644)
	b.rb = &rebuild.Rebuilder{Root: b.root, DB: b.db, Attempts: 1}
	return nil
}

// dropAll drops every table of the run, even when its context has ended.
func (b *loadBench) dropAll() {
	dropTables(b.ctx, b.db, b.drop)
}

// dropTables drops tables, even when ctx has ended: what a run leaves
// behind goes whatever stopped it.
func dropTables(ctx context.Context, db *sql.DB, tables []string) {
	for _, t := range tables {
		db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+mariadb.Quote(t))
	}
}

// fresh makes name an empty A table.
func (b *loadBench) fresh(name string) error {
	b.drop = append(b.drop, name)
	if _, err := b.db.ExecContext(b.ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(name)); err != nil {
		return err
	}
	return mariadb.CreateTable(b.ctx, b.db, b.tb, name)
}

// holds checks that name holds exactly the rows generated.
func (b *loadBench) holds(name string) error {
	var got int
	if err := b.db.QueryRowContext(b.ctx, "SELECT COUNT(*) FROM "+mariadb.Quote(name)).Scan(&got); err != nil {
		return err
	}
	if got != b.n {
		return fmt.Errorf("%s holds %d rows, want the %d generated", name, got, b.n)
	}
	return nil
}

// infile is one trial of the server reading every row itself.
func (b *loadBench) infile() (time.Duration, error) {
	if err := b.fresh("bench_infile"); err != nil {
		return 0, err
	}
	cols := "`" + strings.Join(b.tb.FileColumns(), "`, `") + "`"
	start := time.Now()
	if _, err := b.db.ExecContext(b.ctx, "LOAD DATA INFILE '"+b.all+"' IGNORE INTO TABLE bench_infile CHARACTER SET binary ("+cols+") SET gw = '"+loadBenchGateway+"'"); err != nil {
		return 0, fmt.Errorf("server LOAD DATA INFILE: %w", err)
	}
	took := time.Since(start)
	return took, b.holds("bench_infile")
}

// load is one trial of loader.
func (b *loadBench) load() (time.Duration, error) {
	if err := b.fresh(b.dayTable); err != nil {
		return 0, err
	}
	if err := linkAll(b.loads, logfile.LoadDir(b.root)); err != nil {
		return 0, err
	}
	l, err := loader.New(loader.Config{Root: b.root}, b.db)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	start := time.Now()
	res, err := l.RunOnce(b.ctx)
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if res.Rows != int64(b.n) {
		return 0, fmt.Errorf("loader loaded %d rows, want %d", res.Rows, b.n)
	}
	b.statements = res.Batches
	return took, b.holds(b.dayTable)
}

// rebuildDay is one trial of recover rebuilding the day table.
func (b *loadBench) rebuildDay() (time.Duration, error) {
	if err := b.fresh(b.dayTable); err != nil {
		return 0, err
	}
	start := time.Now()
	res, err := b.rb.Table(b.ctx, 'A', b.dayTable[1:])
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if res.Rows != int64(b.n) {
		return 0, fmt.Errorf("rebuild loaded %d rows, want %d", res.Rows, b.n)
	}
	return took, b.holds(b.dayTable)
}

// check is one trial of recover -check.
func (b *loadBench) check() (time.Duration, error) {
	start := time.Now()
	ms, err := b.rb.Check(b.ctx)
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if len(ms) != 0 {
		return 0, fmt.Errorf("recover -check found %v on a table just rebuilt", ms)
	}
	return took, nil
}

// inserts times row-by-row INSERT, one run each on a sample.
func (b *loadBench) inserts(ref string) ([]Row, error) {
	var rows []Row
	for _, s := range []struct {
		name, engine string
		sample       int
	}{{"row-by-row INSERT, MyISAM (one run, sample)", "MyISAM", min(b.n, 20000)}, {"row-by-row INSERT, InnoDB autocommit (pre-3.2; one run, sample)", "InnoDB", min(b.n, 5000)}} {
		table := "bench_insert_" + strings.ToLower(s.engine)
		b.drop = append(b.drop, table)
		if _, err := b.db.ExecContext(b.ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(table)); err != nil {
			return nil, err
		}
		if _, err := b.db.ExecContext(b.ctx, strings.Replace(b.tb.CreateSQL(table), "ENGINE=MyISAM", "ENGINE="+s.engine, 1)); err != nil {
			return nil, err
		}
		took, err := insertRows(b.ctx, b.db, b.tb, table, b.all, loadBenchGateway, s.sample)
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
