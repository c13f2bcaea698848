package datasync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/retention"
)

// housekeepLoop runs Housekeep every HousekeepEvery until ctx ends.
func (s *Server) housekeepLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.HousekeepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Housekeep(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Error("housekeeping", "err", err)
		}
	}
}

// Housekeep removes the partial uploads idle for longer than IncomingTTL,
// the oldest days of each gateway above its share of -quota
// (pruneGateways), then the days past KeepDays and, while the disk is above its
// watermarks, the oldest days (every gateway's files, attachments, day
// tables and rollups of that day; see package retention: at head office
// every day counts as shipped).
func (s *Server) Housekeep(ctx context.Context, now time.Time) error {
	errs := []error{s.sweepIncoming(now), s.pruneGateways(ctx, now)}
	if s.loader != nil {
		// The loader keeps its loads out of a day it drops.
		errs = append(errs, s.loader.Retention(ctx, now))
	} else {
		errs = append(errs, errors.Join(s.prune.Age(ctx, now), s.prune.Disk(ctx, now)))
	}
	// Removed days no longer count against the quotas: measure again.
	s.mu.Lock()
	clear(s.used)
	s.mu.Unlock()
	return errors.Join(errs...)
}

// pruner is the retention in use: the loader's (which also forgets the
// ledger's days) or, without a database, one for the files alone.
func (s *Server) pruner() *retention.Pruner {
	if s.loader != nil {
		return s.loader.Pruner()
	}
	return s.prune
}

// sweepIncoming removes the partial uploads no connection has written to
// for IncomingTTL. A branch that comes back later asks for the file's
// status, is told 0 bytes are here, and sends it again from the start.
func (s *Server) sweepIncoming(now time.Time) error {
	if s.cfg.IncomingTTL <= 0 {
		return nil
	}
	paths, err := filepath.Glob(filepath.Join(s.root().Incoming("*"), "*.part"))
	if err != nil {
		return err
	}
	var errs []error
	for _, path := range paths {
		fi, err := os.Stat(path)
		if err != nil || now.Sub(fi.ModTime()) < s.cfg.IncomingTTL {
			continue
		}
		gw := filepath.Base(filepath.Dir(path))
		name := incomingName(filepath.Base(path))
		// Under s.mu an upload of the file cannot start: it takes the
		// busy mark under the same lock.
		s.mu.Lock()
		if s.busy[gw+"/"+name] {
			s.mu.Unlock()
			continue
		}
		err = s.cfg.FS.Remove(path)
		if err == nil {
			delete(s.partial, path)
			if _, ok := s.used[gw]; ok {
				s.used[gw] -= fi.Size()
			}
		}
		s.mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.stats.IncomingExpired.Add(1)
		s.log.Info("removed a partial upload idle for longer than -incoming-ttl; a resume sends it again from the start",
			"gw", gw, "file", name, "bytes", fi.Size(), "idle", now.Sub(fi.ModTime()).Round(time.Second), "incoming_ttl", s.cfg.IncomingTTL)
	}
	return errors.Join(errs...)
}

// incomingName is the file name an incoming path (NAME.SUM16.SIZE.part,
// see incomingPath) belongs to.
func incomingName(base string) string {
	parts := strings.Split(strings.TrimSuffix(base, ".part"), ".")
	if len(parts) < 3 {
		return base
	}
	return strings.Join(parts[:len(parts)-2], ".")
}
