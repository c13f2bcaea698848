package datasync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/schema"
)

// pruneGateways applies the watermarks to each gateway's -quota: a
// gateway storing more than -disk-high percent of its quota (-disk-critical
// when -disk-high is off) loses its oldest days until it is below, so a
// branch that outgrows its share keeps shipping instead of being refused.
// A gateway's day goes whole: its sync_files and attachments, and its rows
// in that day's tables and rollups (other gateways' rows stay), so the
// tables still hold exactly the rows of the files (recover -check agrees).
// Today is never removed.
func (s *Server) pruneGateways(ctx context.Context, now time.Time) error {
	level := s.cfg.Disk.High
	if level == 0 {
		level = s.cfg.Disk.Critical
	}
	q := int64(s.cfg.Quota)
	if q <= 0 || level <= 0 {
		return nil
	}
	limit := int64(float64(q) * level / 100)
	today := now.Format(schema.DayLayout)
	var errs []error
	for gw := range *s.gateways.Load() {
		used := s.usage(gw)
		if used <= limit {
			continue
		}
		for _, day := range s.gatewayDays(gw, today) {
			if used <= limit {
				break
			}
			if err := s.dropGatewayDay(ctx, gw, day); err != nil {
				errs = append(errs, err)
				break
			}
			before := used
			s.mu.Lock()
			delete(s.used, gw) // measured again
			s.mu.Unlock()
			used = s.usage(gw)
			s.stats.GatewayDays.Add(1)
			s.log.Warn("gateway above -disk-high of its -quota: removed its oldest day", "gw", gw, "day", day,
				"bytes_before", before, "bytes_after", used, "quota", q, "level_percent", level)
		}
		if used > limit {
			s.log.Warn("gateway still above its share of -quota: only today is left", "gw", gw, "bytes", used, "quota", q)
		}
	}
	return errors.Join(errs...)
}

// gatewayDays lists the days before today a gateway has files of, oldest
// first.
func (s *Server) gatewayDays(gw, today string) []string {
	seen := make(map[string]bool)
	var days []string
	for _, dir := range []string{s.root().SyncGateway(gw), s.root().Attachments(gw)} {
		paths, _ := filepath.Glob(filepath.Join(dir, "[0-9]*"))
		for _, p := range paths {
			d := filepath.Base(p)
			if _, err := time.Parse(schema.DayLayout, d); err != nil || d >= today || seen[d] {
				continue
			}
			seen[d] = true
			days = append(days, d)
		}
	}
	sort.Strings(days)
	return days
}

// dropGatewayDay removes one gateway's day: its rows first (on its
// shard; day tables through loader, rollup tables through rollup), then its files, under the gateway's load lock so no load puts
// rows back meanwhile. A failure or crash in between leaves files whose rows are
// gone: the day is still listed and the next pass finishes it (the ledger
// keeps the files from being loaded again).
func (s *Server) dropGatewayDay(ctx context.Context, gw, day string) error {
	mu := s.loads.lock(gw)
	mu.Lock()
	defer mu.Unlock()
	if s.loader != nil {
		if err := s.loader.DeleteGatewayDay(ctx, gw, day); err != nil {
			return err
		}
		if err := rollup.DeleteGatewayDay(ctx, s.shards, gw, day); err != nil {
			return err
		}
	}
	for _, dir := range []string{s.root().SyncDay(gw, day), s.root().AttachmentsDay(gw, day)} {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}
