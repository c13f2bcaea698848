// Package bench measures acstore's throughputs next to references measured
// in the same run on the same machine, for `make bench`. Each measurement
// returns a Row of the printed table.
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
			ratio = fmt.Sprintf("%.2fx %s", r.Rate()/ref.Rate(), r.Reference)
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

// Loader compares loader (LOAD DATA LOCAL streamed from load_files) with
// the server reading the same rows itself (LOAD DATA INFILE) and with
// row-by-row INSERT, each into a fresh table of the same kind.
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
	loads, _ := filepath.Glob(filepath.Join(logfile.LoadDir(root), "*"+logfile.LoadExt))
	// The same rows as one file the server can read itself.
	all := filepath.Join(root, "all.txt")
	var size int64
	out, err := os.Create(all)
	if err != nil {
		return nil, err
	}
	for _, p := range loads {
		in, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		k, err := io.Copy(out, in)
		in.Close()
		if err != nil {
			return nil, err
		}
		size += k
	}
	out.Close()
	os.Chmod(root, 0o755)
	os.Chmod(all, 0o644)
	fresh := func(name string) error {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(name)); err != nil {
			return err
		}
		return mariadb.CreateTable(ctx, db, tb, name)
	}
	cols := "`" + strings.Join(tb.FileColumns(), "`, `") + "`"
	var rows []Row
	mb := float64(size) / 1e6

	// (a) the server's own LOAD DATA INFILE.
	if err := fresh("bench_infile"); err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := db.ExecContext(ctx, "LOAD DATA INFILE '"+all+"' IGNORE INTO TABLE bench_infile CHARACTER SET binary ("+cols+") SET gw = '"+gw+"'"); err != nil {
		return nil, fmt.Errorf("server LOAD DATA INFILE: %w", err)
	}
	rows = append(rows, Row{Group: "loader", Name: "server LOAD DATA INFILE (reference)", Amount: float64(n), Unit: "rows", Took: time.Since(start),
		Note: fmt.Sprintf("%.0f MB of rows", mb)})

	// (c) loader: the day table name is today's, in a database of its own.
	day := schema.DayTable('A', time.Now())
	if err := fresh(day); err != nil {
		return nil, err
	}
	l, err := loader.New(loader.Config{Root: root}, db)
	if err != nil {
		return nil, err
	}
	start = time.Now()
	res, err := l.RunOnce(ctx)
	took := time.Since(start)
	if err != nil {
		return nil, err
	}
	if res.Rows != int64(n) {
		return nil, fmt.Errorf("loader loaded %d rows, want %d", res.Rows, n)
	}
	rows = append(rows, Row{Group: "loader", Name: fmt.Sprintf("loader, %d load_files, %d statements", res.Files, res.Batches), Amount: float64(n), Unit: "rows", Took: took,
		Reference: "server LOAD DATA INFILE (reference)"})

	// (b) row-by-row INSERT of a sample of the rows.
	if err := fresh("bench_insert"); err != nil {
		return nil, err
	}
	sample := min(n, 20000)
	ins, err := insertRows(ctx, db, tb, "bench_insert", all, gw, sample)
	if err != nil {
		return nil, err
	}
	rows = append(rows, Row{Group: "loader", Name: "row-by-row INSERT (reference)", Amount: float64(sample), Unit: "rows", Took: ins})
	rows[1].Note = fmt.Sprintf("%.1fx row-by-row INSERT", rows[1].Rate()/rows[2].Rate())

	// The design before 3.2: row-by-row INSERT into InnoDB, a commit each.
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS bench_innodb"); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, strings.Replace(tb.CreateSQL("bench_innodb"), "ENGINE=MyISAM", "ENGINE=InnoDB", 1)); err != nil {
		return nil, err
	}
	sample = min(n, 5000)
	ins, err = insertRows(ctx, db, tb, "bench_innodb", all, gw, sample)
	if err != nil {
		return nil, err
	}
	rows = append(rows, Row{Group: "loader", Name: "row-by-row INSERT, InnoDB autocommit (pre-3.2)", Amount: float64(sample), Unit: "rows", Took: ins})
	rows[1].Note += fmt.Sprintf(", %.0fx InnoDB row-by-row", rows[1].Rate()/rows[3].Rate())
	for _, t := range []string{"bench_infile", "bench_insert", "bench_innodb", day} {
		db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(t))
	}
	return rows, nil
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

// Codecs measures writing and reading sync_files with LZ4 and xz.
func Codecs(n int) ([]Row, error) {
	var rows []Row
	for _, c := range []logfile.Codec{logfile.LZ4, logfile.XZ} {
		root, err := os.MkdirTemp("", "acbench-codec-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(root)
		start := time.Now()
		if err := WriteRows(root, "C0DEC000", 'U', n, 20000, c); err != nil {
			return nil, err
		}
		wrote := time.Since(start)
		var plain, packed int64
		loads, _ := filepath.Glob(filepath.Join(logfile.LoadDir(root), "*"))
		for _, p := range loads {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				plain += fi.Size()
			}
		}
		var syncs []string
		logfile.WalkSync(root, func(p string, _ logfile.Name) error { syncs = append(syncs, p); return nil })
		start = time.Now()
		for _, p := range syncs {
			fi, _ := os.Stat(p)
			packed += fi.Size()
			s, err := logfile.OpenRows(p, logfile.LZ4)
			if err != nil {
				return nil, err
			}
			io.Copy(io.Discard, s)
			s.Close()
		}
		read := time.Since(start)
		mb := float64(plain) / 1e6
		ratio := fmt.Sprintf("size ratio %.2f (%.1f MB -> %.1f MB)", float64(plain)/float64(packed), mb, float64(packed)/1e6)
		rows = append(rows,
			Row{Group: "codec", Name: c.String() + " write (rows+encode+compress+fsync)", Amount: mb, Unit: "MB", Took: wrote, Note: ratio},
			Row{Group: "codec", Name: c.String() + " read (decompress)", Amount: mb, Unit: "MB", Took: read})
	}
	return rows, nil
}
