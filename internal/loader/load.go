package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
)

// reject moves a file that can never be loaded out of the way, so it is
// reported once instead of at every pass.
func (l *Loader) reject(path string, cause error) {
	dir := filepath.Join(logfile.LoadDir(l.cfg.Root), ".rejected")
	l.stats.Rejected.Add(1)
	l.cfg.Logger.Error("setting aside a file that cannot be loaded", "file", path, "moved_to", dir, "err", cause)
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = os.Rename(path, filepath.Join(dir, filepath.Base(path)))
		if err == nil {
			return
		}
		l.cfg.Logger.Error("could not set the file aside", "file", path, "err", err)
	}
}

// setAside gives up on a file that cannot be read at all: a load_file is
// moved aside, a sync_file is marked done (recover -check will report its
// table) so it is not retried forever.
func (l *Loader) setAside(p pending, cause error) {
	if p.codec == logfile.Plain {
		l.reject(p.path, cause)
		return
	}
	l.stats.Rejected.Add(1)
	l.cfg.Logger.Error("sync_file is unreadable; skipping it", "file", p.path, "err", cause)
	err := p.done()
	if err == nil && l.ledger != nil {
		err = l.ledger.Sync()
	}
	if err != nil {
		l.cfg.Logger.Warn("could not mark the file done", "file", p.path, "err", err)
	}
}

// loadBatch loads one batch, repairing or rebuilding a damaged table, then
// marks its files done.
func (l *Loader) loadBatch(ctx context.Context, tg *target, b *batch) (int64, error) {
	n, err := l.loadStatement(ctx, tg, b)
	if err != nil && mariadb.IsDamaged(err) {
		n, err = l.recoverTable(ctx, tg, b, err)
	}
	if err != nil {
		if mariadb.IsUnavailable(err) || ctx.Err() != nil {
			return 0, err
		}
		l.stats.Failures.Add(1)
		if len(b.files) > 1 {
			// One bad file must not hold back the others: load one by one.
			return l.loadOneByOne(ctx, tg, b, err)
		}
		var ce *logfile.CorruptionError
		if errors.As(err, &ce) {
			l.setAside(b.files[0], err)
			return 0, err
		}
		l.cfg.Logger.Error("load failed; will retry", "table", b.name, "gw", b.gw, "file", b.files[0].path, "err", err)
		return 0, err
	}
	for _, p := range b.files {
		if err := p.done(); err != nil {
			// Loading again is harmless (IGNORE), so this only costs time.
			l.cfg.Logger.Warn("loaded, but could not mark the file done; it will be loaded again", "file", p.path, "err", err)
		}
	}
	if l.cfg.Keep {
		// One fsync for the batch's ledger entries.
		if err := l.ledger.Sync(); err != nil {
			l.cfg.Logger.Warn("loaded, but the ledger could not be synced; the files may be loaded again", "err", err)
		}
	} else if err := logfile.SyncDir(logfile.LoadDir(l.cfg.Root)); err != nil {
		l.cfg.Logger.Warn("fsync load dir", "err", err)
	}
	l.stats.Files.Add(uint64(len(b.files)))
	l.stats.Rows.Add(uint64(n))
	l.stats.Batches.Add(1)
	l.cfg.Logger.Debug("loaded", "table", b.name, "gw", b.gw, "files", len(b.files), "rows", n)
	return n, nil
}

func (l *Loader) loadOneByOne(ctx context.Context, tg *target, b *batch, cause error) (int64, error) {
	l.cfg.Logger.Warn("batch failed; loading its files one by one", "table", b.name, "files", len(b.files), "err", cause)
	var total int64
	var errs []error
	for _, p := range b.files {
		one := &batch{table: b.table, name: b.name, gw: b.gw, files: []pending{p}, bytes: p.size}
		n, err := l.loadBatch(ctx, tg, one)
		if err != nil {
			if mariadb.IsUnavailable(err) || ctx.Err() != nil {
				return total, err
			}
			errs = append(errs, err)
		}
		total += n
	}
	return total, errors.Join(errs...)
}

// loadStatement streams the batch's files through LOAD DATA statements of
// at most MaxStatementBytes of rows each (a bigger file takes several),
// each holding the table's lock so a rebuild cannot swap the table
// meanwhile. MyISAM lets one writer at a time into a table: between two
// statements of a huge file, the other gateways' loads into the same
// table, waiting for that lock, get their turn. A crash between two
// statements leaves the file's first rows in; it is loaded again whole,
// and the rows already in are skipped (IGNORE, by id).
func (l *Loader) loadStatement(ctx context.Context, tg *target, b *batch) (int64, error) {
	conn, err := tg.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	r := &filesReader{files: b.files, log: l.cfg.Logger, lim: l.cfg.Limits}
	defer r.Close()
	rows := &statements{r: r, max: int64(l.cfg.MaxStatementBytes)}
	var total int64
	for {
		n, err := l.loadPart(ctx, conn, tg, b, logfile.Upgrade(b.table, rows))
		total += n
		if err == nil && r.err != nil {
			err = r.err
		}
		if err != nil {
			return total, fmt.Errorf("load %d file(s) into %s: %w", len(b.files), b.name, err)
		}
		if !rows.next() {
			return total, nil
		}
	}
}

// loadPart runs one LOAD DATA statement of rows into the batch's table
// under the table's lock.
func (l *Loader) loadPart(ctx context.Context, conn *sql.Conn, tg *target, b *batch, rows io.Reader) (int64, error) {
	if err := mariadb.Lock(ctx, conn, b.name, 10*time.Minute); err != nil {
		return 0, err
	}
	defer mariadb.Unlock(context.WithoutCancel(ctx), conn, b.name)
	key := tg.name + "/" + b.name
	if !l.isCreated(key) {
		// A table an older loader created gets the current columns
		// before rows with them arrive (schema.Layout).
		upgraded, err := mariadb.EnsureTable(ctx, conn, b.table, b.name)
		if err != nil {
			return 0, err
		}
		if upgraded {
			l.cfg.Logger.Info("day table upgraded to the current columns", "table", b.name)
		}
		l.setCreated(key, true)
	}
	n, err := mariadb.Load(ctx, conn, b.name, b.table.FileColumns(), b.gw, rows)
	if err != nil && mariadb.IsNoSuchTable(err) {
		l.setCreated(key, false) // dropped behind our back: create it again next time
	}
	return n, err
}
