package datasync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
)

// loadConfig replaces a gateway's rows of each config table whose file
// changed since it was last loaded. The md5 is recorded after the load, so
// a crash in between loads it again.
func (s *Server) loadConfig(ctx context.Context, gw string) error {
	err := s.loadConfigFiles(ctx, gw)
	if mariadb.IsUnavailable(err) {
		s.configChecked.Store(false) // it may come back from a crash
	}
	return err
}

func (s *Server) loadConfigFiles(ctx context.Context, gw string) error {
	if err := s.checkConfig(ctx); err != nil {
		return err
	}
	loaded := s.state.get(gw).ConfigLoaded
	for _, t := range schema.ConfigTables() {
		data, err := os.ReadFile(s.configPath(gw, t))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		sum := md5hex(data)
		if loaded[configFile(t)] == sum {
			continue
		}
		if err := s.replaceConfig(ctx, t, gw, sum); err != nil {
			return fmt.Errorf("config %s of %s: %w", configFile(t), gw, err)
		}
	}
	return nil
}

// replaceConfig replaces gw's rows of config table t with its file, whose
// md5 is sum. A
// table found damaged (what a crash of the database in the middle of a
// load leaves) is repaired, and then every gateway's rows are loaded again:
// the repair may have dropped any of them.
func (s *Server) replaceConfig(ctx context.Context, t *schema.Table, gw, sum string) error {
	conn, release, err := s.lockConfig(ctx, t)
	if err != nil {
		return err
	}
	defer release()
	err = s.loadConfigFile(ctx, conn, t, gw, sum)
	if mariadb.IsDamaged(err) {
		return s.repairConfig(ctx, conn, t, err)
	}
	return err
}

// checkConfig runs CHECK TABLE on the config tables, and repairs those
// found damaged, once after the server starts and again after the
// database was away: damage comes with crashes, and a config table is
// written to only when a branch's file changes.
func (s *Server) checkConfig(ctx context.Context) error {
	if s.configChecked.Load() {
		return nil
	}
	for _, t := range schema.ConfigTables() {
		if err := s.checkConfigTable(ctx, t); err != nil {
			return err
		}
	}
	s.configChecked.Store(true)
	return nil
}

func (s *Server) checkConfigTable(ctx context.Context, t *schema.Table) error {
	conn, release, err := s.lockConfig(ctx, t)
	if err != nil {
		return err
	}
	defer release()
	cerr := mariadb.Check(ctx, conn, t.Name)
	if cerr == nil || mariadb.IsUnavailable(cerr) {
		return cerr
	}
	return s.repairConfig(ctx, conn, t, cerr)
}

// lockConfig returns a connection to the database of the config tables,
// holding config table t's lock; t is created if need be. release
// unlocks and closes.
func (s *Server) lockConfig(ctx context.Context, t *schema.Table) (conn *sql.Conn, release func(), err error) {
	db := s.db
	if s.cfg.Shards != nil {
		// Config tables live on the default shard (the front reads them there).
		if db, err = s.cfg.Shards.Default(ctx); err != nil {
			return nil, nil, err
		}
	}
	if err := mariadb.CreateTable(ctx, db, t, t.Name); err != nil {
		return nil, nil, err
	}
	if conn, err = db.Conn(ctx); err != nil {
		return nil, nil, err
	}
	// MyISAM has no transactions: the lock keeps two servers on one
	// database from interleaving their DELETE and LOAD.
	if err := mariadb.Lock(ctx, conn, t.Name, time.Minute); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, func() {
		mariadb.Unlock(context.WithoutCancel(ctx), conn, t.Name)
		conn.Close()
	}, nil
}

// repairConfig repairs config table t, found damaged by cause, and loads
// every gateway's file of it again. Their md5s are forgotten first, so a
// crash in the middle leaves the rest to their gateways' next loads.
func (s *Server) repairConfig(ctx context.Context, conn *sql.Conn, t *schema.Table, cause error) error {
	s.log.Warn("config table is damaged; repairing it and loading every gateway's rows again", "table", t.Name, "err", cause)
	if err := mariadb.Repair(ctx, conn, t.Name); err != nil {
		// Every row of a config table is in a file here: start afresh.
		s.log.Warn("REPAIR TABLE failed; the config table is made again", "table", t.Name, "err", err)
		if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(t.Name)); err != nil {
			return fmt.Errorf("drop damaged %s: %w", t.Name, err)
		}
		if err := mariadb.CreateTable(ctx, conn, t, t.Name); err != nil {
			return err
		}
	}
	if err := s.state.forgetConfig(configFile(t)); err != nil {
		return err
	}
	var errs []error
	for _, gw := range s.knownGateways() {
		data, err := os.ReadFile(s.configPath(gw, t))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			err = s.loadConfigFile(ctx, conn, t, gw, md5hex(data))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", gw, err))
		}
	}
	return errors.Join(errs...)
}

// loadConfigFile replaces gw's rows of t with its file, whose md5 is sum,
// and records sum. The caller holds t's lock.
func (s *Server) loadConfigFile(ctx context.Context, conn *sql.Conn, t *schema.Table, gw, sum string) error {
	if _, err := conn.ExecContext(ctx, "DELETE FROM "+mariadb.Quote(t.Name)+" WHERE `gw` = ?", gw); err != nil {
		return err
	}
	rs, err := logfile.OpenRows(s.configPath(gw, t), logfile.Plain)
	if err != nil {
		return err
	}
	defer rs.Close()
	if _, err := mariadb.Load(ctx, conn, t.Name, t.FileColumns(), gw, rs); err != nil {
		return err
	}
	if err := rs.Err(); err != nil {
		return err
	}
	if err := s.state.update(gw, func(g *GatewayState) { g.ConfigLoaded[configFile(t)] = sum }); err != nil {
		return err
	}
	s.log.Info("config table loaded", "gw", gw, "table", t.Name, "md5", sum)
	return nil
}

// configFile is the name of config table t's file, the key of its md5 in
// a gateway's state.
func configFile(t *schema.Table) string { return t.Name + ".tsv" }

// configPath is gw's file of config table t at head office.
func (s *Server) configPath(gw string, t *schema.Table) string {
	return filepath.Join(s.root().GatewayConfig(gw), configFile(t))
}
