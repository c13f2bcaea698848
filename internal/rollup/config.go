package rollup

import (
	"errors"
	"flag"
	"log/slog"
	"runtime"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/shard"
)

// Config configures a Roller.
type Config struct {
	Root string // data root: sync_files under Root/sync
	// StateDir holds the record of rolled-up sync_files; default
	// Root/state/midtable.
	StateDir string
	Interval time.Duration // how often the daemon looks for new sync_files
	Workers  int           // sync_files read in parallel
	LockWait time.Duration // how long to wait for another midtable holding a table
	Logger   *slog.Logger
	// Shards, at a head office past one server, puts each gateway's
	// rollups on its shard (package shard); nil: on the db given to New.
	Shards *shard.Set
	// KeepDays drops the rollups (and their record) of days older than
	// this; 0 keeps everything.
	KeepDays int
	// Disk are the watermarks at which the daemon drops the oldest days
	// whole: their files, their rollups, and what DayTables holds of
	// them.
	Disk retention.Watermarks
	// DayTables, when set, drops the day tables with a day at the disk
	// watermarks (one server; past one, loader -keep drops them on every
	// shard).
	DayTables retention.Store
}

// RegisterFlags adds midtable's own daemon flags to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.Interval, "interval", 5*time.Second, "how often to look for newly published sync_files")
	fs.IntVar(&c.Workers, "workers", runtime.GOMAXPROCS(0), "sync_files read in parallel")
	fs.IntVar(&c.KeepDays, "keep-days", 0, "drop the rollup tables, and the record of what they were computed from, of days older than this many days; 0 keeps everything")
	c.Disk.RegisterFlags(fs)
}

// Validate checks the settings and fills in defaults.
func (c *Config) Validate() error {
	if c.Root == "" {
		return errors.New("no -data directory")
	}
	if c.KeepDays < 0 {
		return errors.New("-keep-days must be 0 or more")
	}
	if err := c.Disk.Validate(); err != nil {
		return err
	}
	if c.StateDir == "" {
		c.StateDir = dataroot.Root(c.Root).State("midtable")
	}
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.LockWait <= 0 {
		c.LockWait = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
