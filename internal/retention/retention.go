// Package retention decides which days of a data root go, and removes
// them whole (sync_files, attachment bundles, and what the daemon's Store
// holds of them: loader's day tables, midtable's rollups and its record of
// them): by age (-keep-days) and by the disk watermarks (-disk-high,
// -disk-critical) that every daemon writing to the root checks. Each
// program drops its own tables and state; the files are everyone's.
//
// When datasync push runs on the root, a day head office has not received
// is never removed by age, nor at the high watermark: a branch offline for
// longer than its retention keeps everything until it has shipped it. Only
// above the critical watermark do unshipped days go, oldest first, each
// logged as an error and counted, because the alternative is a full disk
// and aclog losing today's traffic. Today is never removed.
package retention

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// Config configures a Pruner.
type Config struct {
	Root     string
	KeepDays int // 0: no age limit
	Marks    Watermarks
	Store    Store         // nil: files only (aclog has no database)
	Every    time.Duration // how often Tick looks at the disk; a minute when 0
	Logger   *slog.Logger
	// Used measures the disk; Used (statfs of Root) when nil.
	Used func(root string) (float64, error)
}

// Stats count what the pruner removed.
type Stats struct {
	AgeDays, HighDays, CriticalDays atomic.Uint64 // days removed, by reason
	UnshippedDays                   atomic.Uint64 // of them, days head office had not received
	Held                            atomic.Int64  // days past retention kept at the last pass: not shipped yet
	UsedPermille                    atomic.Int64  // disk in use at the last look, in tenths of a percent
}

// Pruner removes old days of a data root.
type Pruner struct {
	cfg      Config
	stats    Stats
	lastAge  time.Time
	lastDisk time.Time
	ageEvery time.Duration
}

// New returns a pruner.
func New(cfg Config) *Pruner {
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Used == nil {
		cfg.Used = Used
	}
	return &Pruner{cfg: cfg, ageEvery: time.Hour}
}

// Stats returns the pruner's counters.
func (p *Pruner) Stats() *Stats { return &p.stats }

// Register adds the pruner's metrics, under acstore_<sub>_retention_*.
func (p *Pruner) Register(reg prometheus.Registerer, sub string) {
	reg.MustRegister(
		daemon.Counter(sub, "retention_age_days_total", "Days removed because they were older than -keep-days.", &p.stats.AgeDays),
		daemon.Counter(sub, "retention_high_days_total", "Days already shipped removed because the disk was above -disk-high.", &p.stats.HighDays),
		daemon.Counter(sub, "retention_critical_days_total", "Days removed because the disk was above -disk-critical.", &p.stats.CriticalDays),
		daemon.Counter(sub, "retention_unshipped_days_total", "Days removed before datasync had shipped them (disk critically full): data head office never got.", &p.stats.UnshippedDays),
		daemon.Gauge(sub, "retention_held_days", "Days past -keep-days kept because datasync has not shipped them yet.", func() float64 { return float64(p.stats.Held.Load()) }),
		daemon.Gauge(sub, "disk_used_percent", "Disk in use on the data root's filesystem at the last look.", func() float64 { return float64(p.stats.UsedPermille.Load()) / 10 }),
	)
}

// Run calls Tick every Every until ctx ends, for daemons that prune beside
// their work.
func (p *Pruner) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Every)
	defer t.Stop()
	for {
		if err := p.Tick(ctx, time.Now()); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Error("retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick prunes when it is due: by age once an hour, by disk once every
// Every. Daemons call it from their loop as often as they like.
func (p *Pruner) Tick(ctx context.Context, now time.Time) error {
	age := p.cfg.KeepDays > 0 && now.Sub(p.lastAge) >= p.ageEvery
	disk := !p.cfg.Marks.Off() && now.Sub(p.lastDisk) >= p.cfg.Every
	if !age && !disk {
		return nil
	}
	var errs []error
	if age {
		errs = append(errs, p.Age(ctx, now))
		p.lastAge = now
	}
	if disk {
		errs = append(errs, p.Disk(ctx, now))
		p.lastDisk = now
	}
	return errors.Join(errs...)
}

// day is one day on the root and whether head office has it.
type day struct {
	name    string
	shipped bool
}

// days lists the days before today that the root or the store holds,
// oldest first, but not those with a sync_file still being written.
func (p *Pruner) days(ctx context.Context, now time.Time) ([]day, error) {
	shipped, serr := ReadShipped(p.cfg.Root)
	if serr != nil {
		p.cfg.Logger.Error("retention: cannot tell what datasync shipped; keeping every day as unshipped", "err", serr)
	}
	today := now.Format(schema.DayLayout)
	set := make(map[string][]string) // day -> gateways with files of it
	open := make(map[string]bool)    // days a writer still has files open in
	dirs, err := filepath.Glob(dataroot.Root(p.cfg.Root).SyncDay("*", "[0-9]*"))
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		name := filepath.Base(d)
		if _, err := time.Parse(schema.DayLayout, name); err != nil || name >= today {
			continue
		}
		set[name] = append(set[name], filepath.Base(filepath.Dir(d)))
		if parts, _ := filepath.Glob(filepath.Join(d, "*"+logfile.PartExt)); len(parts) > 0 {
			open[name] = true
		}
	}
	var errs []error
	if p.cfg.Store != nil {
		sd, err := p.cfg.Store.Days(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		for _, d := range sd {
			if _, ok := set[d]; !ok && d < today {
				set[d] = nil
			}
		}
	}
	out := make([]day, 0, len(set))
	for name, gws := range set {
		if open[name] {
			continue // aclog -r writing a past day: never pulled from under it
		}
		d := day{name: name, shipped: true}
		for _, gw := range gws {
			ok, err := shipped.Day(p.cfg.Root, gw, name)
			if err != nil {
				errs = append(errs, err)
			}
			d.shipped = d.shipped && ok && err == nil
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b day) int { return strings.Compare(a.name, b.name) })
	return out, errors.Join(errs...)
}

// Age removes the days older than KeepDays that head office has.
func (p *Pruner) Age(ctx context.Context, now time.Time) error {
	if p.cfg.KeepDays <= 0 {
		return nil
	}
	cutoff := now.AddDate(0, 0, -p.cfg.KeepDays).Format(schema.DayLayout)
	days, err := p.days(ctx, now)
	errs := []error{err}
	var held int64
	for _, d := range days {
		if d.name >= cutoff {
			break
		}
		if !d.shipped {
			held++
			p.cfg.Logger.Warn("retention: keeping a day past -keep-days: datasync has not shipped it yet", "day", d.name, "keep_days", p.cfg.KeepDays)
			continue
		}
		if err := p.drop(ctx, d.name); err != nil {
			errs = append(errs, err)
			continue
		}
		p.stats.AgeDays.Add(1)
		p.cfg.Logger.Info("retention: removed a day older than -keep-days", "day", d.name, "keep_days", p.cfg.KeepDays)
	}
	p.stats.Held.Store(held)
	return errors.Join(errs...)
}

// Disk brings the disk back under the watermarks: the oldest shipped days
// go while it is above High, then, while it is above Critical, the oldest
// unshipped ones too.
func (p *Pruner) Disk(ctx context.Context, now time.Time) error {
	used, err := p.used()
	if err != nil || !p.above(used) {
		return err
	}
	days, err := p.days(ctx, now)
	errs := []error{err}
	m := p.cfg.Marks
	gone := make(map[string]bool)
	for _, d := range days {
		if m.High == 0 || used < m.High {
			break
		}
		if !d.shipped {
			continue
		}
		if err := p.drop(ctx, d.name); err != nil {
			errs = append(errs, err)
			continue
		}
		gone[d.name] = true
		p.stats.HighDays.Add(1)
		before := used
		if used, err = p.used(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		p.cfg.Logger.Warn("disk above -disk-high: removed the oldest day already shipped", "day", d.name,
			"used_before", round1(before), "used_after", round1(used), "disk_high", m.High)
	}
	for _, d := range days {
		if m.Critical == 0 || used < m.Critical {
			break
		}
		if gone[d.name] {
			continue
		}
		if err := p.drop(ctx, d.name); err != nil {
			errs = append(errs, err)
			continue
		}
		p.stats.CriticalDays.Add(1)
		if !d.shipped {
			p.stats.UnshippedDays.Add(1)
		}
		before := used
		if used, err = p.used(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		p.cfg.Logger.Error("DISK CRITICALLY FULL: removed a day head office has NOT received", "day", d.name,
			"shipped", d.shipped, "used_before", round1(before), "used_after", round1(used), "disk_critical", m.Critical)
	}
	if p.above(used) {
		p.cfg.Logger.Warn("disk still above its watermark: nothing left that may be removed (today is kept; unshipped days go only above -disk-critical)",
			"used", round1(used), "disk_high", m.High, "disk_critical", m.Critical)
	}
	return errors.Join(errs...)
}

func (p *Pruner) used() (float64, error) {
	used, err := p.cfg.Used(p.cfg.Root)
	if err == nil {
		p.stats.UsedPermille.Store(int64(used * 10))
	}
	return used, err
}

func (p *Pruner) above(used float64) bool {
	m := p.cfg.Marks
	return m.High > 0 && used >= m.High || m.Critical > 0 && used >= m.Critical
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// drop removes everything of day: what the Store holds first (a crash
// then leaves files, which the next pass finds), then its sync_files and
// attachment bundles of every gateway, its unpacked attachments (head
// office), and the load_files and backfill markers of it still waiting.
// Midtable's rollups and its record of them are midtable's: it drops them
// through its own Store.
func (p *Pruner) drop(ctx context.Context, d string) error {
	if p.cfg.Store != nil {
		if err := p.cfg.Store.DropDay(ctx, d); err != nil {
			return err
		}
	}
	var errs []error
	root := dataroot.Root(p.cfg.Root)
	for _, pattern := range []string{
		root.SyncDay("*", d),
		root.AttachmentsDay("*", d),
		filepath.Join(root.Load(), d+"_*"),
	} {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, path := range paths {
			if err := os.RemoveAll(path); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
