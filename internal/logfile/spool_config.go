package logfile

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
)

// SpoolConfig configures a Spool.
type SpoolConfig struct {
	Root    string // data root
	Gateway string // 8 hex digits
	Codec   Codec  // of the sync_files
	// HighPerformance writes sync_files only: no load_files, the local
	// database stays empty and everything goes to head office.
	HighPerformance bool
	// MaxLoadBacklog is how many load_files may wait for loader before the
	// spool stops writing them. Sync_files go on; a backfill marker asks
	// loader to load the whole sync_file instead, so nothing is lost.
	MaxLoadBacklog int
	// MaxFrameBytes flushes a window early when its pending rows reach this
	// size; it bounds memory and the loss of a torn frame.
	MaxFrameBytes int
	// Writers is how many frames may be written at once on goroutines
	// of their own while the caller goes on taking rows (frames of one
	// window are compressed at once but appended in order); 0 writes each
	// frame on the caller before its flush returns.
	// Flush, Advance and Close return once what they flush is written.
	Writers int
	// Grace is how long after its end a window stays open for late rows.
	Grace  time.Duration
	Logger *slog.Logger
	// FS is the file layer the spool writes through (fileutil.OS if nil;
	// a fileutil.CutFS in power-cut tests).
	FS fileutil.FS
}

func (c *SpoolConfig) defaults() error {
	if !ValidGateway(c.Gateway) {
		return fmt.Errorf("gateway %q is not 8 hex digits (e.g. 5F86F7A5)", c.Gateway)
	}
	if c.Root == "" {
		return errors.New("no data root")
	}
	if c.MaxLoadBacklog <= 0 {
		c.MaxLoadBacklog = 2000
	}
	if c.Writers < 0 {
		return fmt.Errorf("%d frame writers", c.Writers)
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 4 << 20
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FS == nil {
		c.FS = fileutil.OS
	}
	return nil
}

// SpoolStats counts what a Spool has done.
type SpoolStats struct {
	Rows        map[byte]uint64 // rows per table letter
	Frames      uint64          // frames appended to sync_files
	LoadFiles   uint64          // load_files published
	Backfills   uint64          // backfill markers written
	Published   uint64          // sync_files published
	Recovered   uint64          // .part files found at start and sealed
	Dropped     uint64          // rows refused because a sync_file could not be written
	WriteErrors uint64          // appends to a sync_file that failed (rows kept in memory)
	HeldRows    int             // rows in memory, not yet in a sync_file
	HeldBytes   int             // their bytes
	OpenWindows int
	LoadPaused  bool // load_files are paused because loader is behind
}
