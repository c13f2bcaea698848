package rollup

// One block: its sync_files read (in parallel, their aggregates cached
// while the block is still being written), aggregated, and its buckets
// replaced in the rollup tables in one locked step.

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
)

// fileKey identifies one version of a sync_file; a file reopened for late
// rows changes size and is read again.
type fileKey struct {
	path  string
	size  int64
	mtime int64
}

type cached struct {
	agg   agg
	st    fileStats
	block Block
}

// blockFiles lists the published sync_files of a block.
func (r *Roller) blockFiles(b Block) ([]string, error) {
	dir := dataroot.Root(r.cfg.Root).SyncDay(b.Gateway, b.Day)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), logfile.SyncExt) {
			continue
		}
		n, err := logfile.ParseName(e.Name(), time.Local)
		if err != nil || n.Table != b.Letter || n.Gateway != b.Gateway || BlockOf(n) != b {
			continue
		}
		paths = append(paths, filepath.Join(dir, e.Name()))
	}
	return paths, nil
}

// Block recomputes one block from all its sync_files and replaces its
// buckets in every rollup table of its source.
func (r *Roller) Block(ctx context.Context, b Block) (Result, error) {
	p := r.plans[b.Letter]
	if p == nil {
		return Result{}, fmt.Errorf("block %s: no rollups for table %c", b, b.Letter)
	}
	begin := time.Now()
	fine, res, err := r.aggregate(ctx, p, b)
	if err != nil {
		return Result{}, fmt.Errorf("block %s: %w", b, err)
	}
	tables := project(b, fine, RollupsOf(b.Letter))
	computed := time.Now()
	if err := r.replace(ctx, b, tables); err != nil {
		return Result{}, fmt.Errorf("block %s: %w", b, err)
	}
	for _, t := range tables {
		res.TableRows += int64(t.rows)
	}
	res.Blocks = 1
	r.stats.Blocks.Add(1)
	r.stats.TableRows.Add(uint64(res.TableRows))
	r.cfg.Logger.Debug("block replaced", "block", b, "files", res.Files, "rows", res.Rows, "rollup_rows", res.TableRows,
		"compute", computed.Sub(begin).Round(time.Millisecond), "replace", time.Since(computed).Round(time.Millisecond))
	return res, nil
}

// aggregate reads the block's files (in parallel, reusing the aggregates
// of files read before and unchanged) into one fine aggregate.
func (r *Roller) aggregate(ctx context.Context, p *plan, b Block) (agg, Result, error) {
	paths, err := r.blockFiles(b)
	if err != nil {
		return nil, Result{}, err
	}
	jobs := make([]*fileJob, len(paths))
	var todo []*fileJob
	for i, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			// Renamed to .part for late rows: the next publication makes the
			// block pending again.
			jobs[i] = &fileJob{}
			continue
		}
		k := fileKey{path, info.Size(), info.ModTime().UnixNano()}
		jobs[i] = &fileJob{key: k, c: r.cache[k]}
		if jobs[i].c == nil {
			todo = append(todo, jobs[i])
		}
	}
	r.readFiles(ctx, p, b, todo)
	if err := ctx.Err(); err != nil {
		return nil, Result{}, err
	}
	fine := make(agg)
	var res Result
	for _, j := range jobs {
		if c := r.take(j); c != nil {
			fine.merge(c.agg)
			res.Files++
			res.Rows += c.st.Rows
		}
	}
	return fine, res, nil
}

// fileJob is one sync_file of a block: its aggregate, cached or read now.
type fileJob struct {
	key fileKey
	c   *cached
	err error
}

// readFiles aggregates the files of todo on up to Workers goroutines.
func (r *Roller) readFiles(ctx context.Context, p *plan, b Block, todo []*fileJob) {
	var wg sync.WaitGroup
	next := make(chan *fileJob)
	for range min(r.cfg.Workers, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := newAggregator(p, b)
			for j := range next {
				fa, st, err := a.file(j.key.path)
				j.c, j.err = &cached{agg: fa, st: st, block: b}, err
			}
		}()
	}
	for _, j := range todo {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
}

// take returns the aggregate of a file to merge, or nil for one that is
// gone or unreadable. A file read now is counted, its troubles logged,
// and its aggregate cached.
func (r *Roller) take(j *fileJob) *cached {
	if j.c == nil && j.err == nil {
		return nil
	}
	if j.err != nil {
		if errors.Is(j.err, os.ErrNotExist) {
			return nil
		}
		// A file that cannot be read at all holds no rows the loader
		// could load either; skip it as loader does, loudly.
		r.stats.Torn.Add(1)
		r.cfg.Logger.Error("sync_file is unreadable; its rows are not in the rollups", "file", j.key.path, "err", j.err)
		return nil
	}
	if j.c.st.Torn != nil && r.cache[j.key] == nil {
		r.stats.Torn.Add(1)
		r.cfg.Logger.Warn("sync_file has a torn or damaged tail; its complete rows are rolled up", "err", j.c.st.Torn)
	}
	if bad := j.c.st.Bad + j.c.st.Stray; bad > 0 && r.cache[j.key] == nil {
		r.stats.BadRows.Add(uint64(bad))
		r.cfg.Logger.Warn("rows skipped", "file", j.key.path, "malformed", j.c.st.Bad, "outside_window", j.c.st.Stray)
	}
	if r.cache[j.key] == nil {
		r.stats.Files.Add(1)
		r.stats.Rows.Add(uint64(j.c.st.Rows))
		r.cache[j.key] = j.c
	}
	return j.c
}

// trimCache keeps the aggregates of the files of the latest block of each
// gateway and table just processed: in steady state the next window lands
// in the same block, and only its file needs reading.
func (r *Roller) trimCache(blocks []Block) {
	latest := make(map[string]Block)
	for _, b := range blocks {
		k := b.Gateway + string(b.Letter)
		if l, ok := latest[k]; !ok || l.Day+fmt.Sprint(l.Index) < b.Day+fmt.Sprint(b.Index) {
			latest[k] = b
		}
	}
	for k, c := range r.cache {
		if latest[c.block.Gateway+string(c.block.Letter)] != c.block {
			delete(r.cache, k)
		}
	}
}

// replace swaps the block's rows in every rollup table of its source.
//
// What a reader sees: the tables are locked with LOCK TABLES ... WRITE for
// the whole replacement (DELETE of the block's buckets, then LOAD DATA of
// the new rows, table after table), so a query waits for the lock and then
// sees the old rows of the block or the new ones, in every table of the
// source alike, never a block half replaced. A crash in the middle (of
// midtable; the lock dies with its connection) can leave a block half
// replaced, but its files are not in the state yet, so the next pass
// replaces it again.
func (r *Roller) replace(ctx context.Context, b Block, tables []tableRows) error {
	// The block's gateway's shard holds its rollups.
	shardName := r.set.Map().For(b.Gateway, b.Day)
	db, err := r.set.DB(ctx, shardName)
	if err != nil {
		return err
	}
	if err := r.createTables(ctx, db, shardName, tables); err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Serialises midtable processes (a daemon and a -rebuild) on the same
	// source and day; LOCK TABLES alone would interleave their blocks.
	lock := "Mid" + string(b.Letter) + b.Day
	if err := mariadb.Lock(ctx, conn, lock, r.cfg.LockWait); err != nil {
		return err
	}
	defer mariadb.Unlock(context.WithoutCancel(ctx), conn, lock)
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = mariadb.Quote(t.name) + " WRITE"
	}
	if _, err := conn.ExecContext(ctx, "LOCK TABLES "+strings.Join(names, ", ")); err != nil {
		if mariadb.IsNoSuchTable(err) {
			clear(r.created) // dropped behind our back (retention): create again
		}
		return fmt.Errorf("lock tables: %w", err)
	}
	unlocked := false
	defer func() {
		if unlocked {
			return
		}
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES"); err != nil {
			// Never give a connection holding table locks back to the pool.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	if err := writeBuckets(ctx, conn, b, tables); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		return fmt.Errorf("unlock tables: %w", err)
	}
	unlocked = true
	return nil
}

// createTables creates the rollup tables of a block on its shard, once.
func (r *Roller) createTables(ctx context.Context, db *sql.DB, shardName string, tables []tableRows) error {
	for _, t := range tables {
		if r.created[shardName+"/"+t.name] {
			continue
		}
		if _, err := db.ExecContext(ctx, t.rollup.CreateSQL(t.name)); err != nil {
			return fmt.Errorf("create table %s: %w", t.name, err)
		}
		r.created[shardName+"/"+t.name] = true
	}
	return nil
}

// writeBuckets replaces the block's buckets in each table: its rows
// deleted, the new ones loaded. The tables are locked by the caller.
func writeBuckets(ctx context.Context, conn *sql.Conn, b Block, tables []tableRows) error {
	for _, t := range tables {
		if _, err := conn.ExecContext(ctx, "DELETE FROM "+mariadb.Quote(t.name)+" WHERE `gw` = ? AND `bucket` >= ? AND `bucket` < ?",
			b.Gateway, b.Start(), b.End()); err != nil {
			return fmt.Errorf("delete %s from %s: %w", b, t.name, err)
		}
		if t.rows == 0 {
			continue
		}
		n, err := mariadb.Load(ctx, conn, t.name, t.rollup.Columns(), "", bytes.NewReader(t.text))
		if err != nil {
			return fmt.Errorf("load %s into %s: %w", b, t.name, err)
		}
		if n != int64(t.rows) {
			return fmt.Errorf("load %s into %s: %d rows inserted of %d (a key collision the grouping did not see)", b, t.name, n, t.rows)
		}
	}
	return nil
}
