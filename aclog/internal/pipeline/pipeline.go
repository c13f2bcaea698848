// Package pipeline is aclog's main loop: packets from capture sources into
// the audit engine, events into rows, rows into sync_files and load_files,
// with the periodic work (load_files every few seconds, windows closed by
// packet time) done between packets on the same goroutine, so nothing needs
// a lock and capture never waits for another goroutine.
package pipeline

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/aclog/internal/capture"
	"github.com/acstore/acstore/aclog/internal/record"
	"github.com/acstore/acstore/aclog/internal/source"
	"github.com/acstore/acstore/internal/configtab"
	"github.com/acstore/acstore/internal/logfile"
)

// Pipeline runs aclog.
type Pipeline struct {
	cfg  Config
	mu   sync.Mutex
	snap Snapshot
}

// New returns a Pipeline.
func New(cfg Config) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Pipeline{cfg: cfg}, nil
}

// Snapshot returns the latest counters; safe from any goroutine.
func (p *Pipeline) Snapshot() Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.snap
	return s
}

// run holds the state of one Run.
type run struct {
	p       *Pipeline
	eng     engine
	recs    recorders // one per lane
	sp      *logfile.Spool
	src     capture.Source
	srcBase capture.Stats // counters of the sources already closed
	conf    *configtab.Tables
	rc      record.Config
	ledger  *source.Ledger
	// counters of the engines and recorders of captures already done
	engBase    audit.Stats
	recBase    record.Stats
	recErrBase uint64
	lastFlush  time.Time
	published  time.Time // when the counters were last copied for the stats line
	ticked     time.Time // when tick last ran
	pktTime    time.Time // latest packet time (live: or wall time) seen
	file       string    // capture file being read; "" live
	newFile    bool      // no packet of file read yet
	snap       Snapshot

	wmu    sync.Mutex
	writes writeStats // guarded by wmu
}

// Run captures until the files end or ctx is cancelled (SIGTERM), then
// flushes and publishes everything it holds. A capture file that is
// truncated or unreadable is reported and the next one is read.
func (p *Pipeline) Run(ctx context.Context) error {
	cfg := p.cfg
	conf, err := configtab.Load(configtab.Dir(cfg.Root))
	if err != nil {
		return err
	}
	sp, err := logfile.NewSpool(logfile.SpoolConfig{
		Root: cfg.Root, Gateway: cfg.Gateway, Codec: cfg.Codec,
		HighPerformance: cfg.HighPerformance, MaxLoadBacklog: cfg.MaxLoadBacklog, Logger: cfg.Logger,
		Grace: cfg.Audit.RowDelay(), Writers: frameWriters(cfg.Workers),
	})
	if err != nil {
		return err
	}
	rc := cfg.Record
	rc.Root, rc.Gateway = cfg.Root, cfg.Gateway
	rc.XGrace = max(rc.XGrace, cfg.Audit.RowDelay())
	r := &run{p: p, sp: sp, conf: conf, rc: rc, lastFlush: time.Now()}
	if err := r.freshEngine(); err != nil {
		return err
	}
	var runErr error
	switch {
	case cfg.Iface != "":
		runErr = r.live(ctx)
	default:
		if r.ledger, err = openLedger(cfg); err != nil {
			return err
		}
		defer r.ledger.Close()
		if cfg.Watch != "" {
			runErr = r.watch(ctx)
		} else {
			runErr = r.files(ctx)
		}
	}
	// Capture end: every open session ends, every sum is written, every
	// window is published.
	r.end()
	closeErr := sp.Close()
	r.noteWrites()
	r.publish()
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	if errors.Is(runErr, errUnwritten) && closeErr != nil {
		// Already said, once, by runErr.
		cfg.Logger.Debug("closing sync_files", "err", closeErr)
		closeErr = nil
	}
	return errors.Join(runErr, closeErr)
}

// frameWriters is how many frames the spool writes at once behind the
// goroutine that commits rows. With several workers, that goroutine (the
// files goroutine) is what a capture's end waits for: every session, sum
// and held row of the capture is written then, and compressing and
// fsyncing the frames took most of its time while the lanes waited. With
// one worker everything runs on the loop's goroutine, as it always has.
func frameWriters(workers int) int {
	if workers > 1 {
		return 2
	}
	return 0
}

func (r *run) files(ctx context.Context) error {
	for _, path := range r.p.cfg.Files {
		if _, err := r.captureFile(ctx, path); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) live(ctx context.Context) error {
	c := r.p.cfg
	lc := capture.LiveConfig{Interface: c.Iface, Filter: c.Filter, Snaplen: c.Snaplen, Promisc: c.Promisc, BufferSize: c.BufferSize}
	var src capture.Source
	var err error
	if c.Capture == "pcap" {
		src, err = capture.OpenLive(lc)
	} else {
		src, err = capture.OpenAFPacket(lc, c.Workers)
	}
	if err != nil {
		return err
	}
	c.Logger.Info("capturing", "iface", c.Iface, "capture", c.Capture, "promisc", c.Promisc, "buffer_size", c.BufferSize,
		"workers", c.Workers)
	defer src.Close()
	r.recs.SetSource("live:" + r.p.cfg.Iface)
	// The per-second rates count from here, not from the first tick.
	r.publish()
	err = r.feed(ctx, src)
	r.srcBase = addStats(r.srcBase, src.Stats())
	r.src = nil
	return err
}

// sourceName is how M rows name a capture file (file_path: the file the
// row came from): its absolute path, so that it says which file whatever directory aclog
// ran in.
func sourceName(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// feed reads src to its end, doing the periodic work between packets.
func (r *run) feed(ctx context.Context, src capture.Source) error {
	r.src = src
	for n := 1; ; n++ {
		data, ci, err := src.ReadPacket()
		switch {
		case err == nil:
			r.checkTime(ci.Timestamp)
			r.eng.Packet(src.LinkType(), data, ci)
			if ci.Timestamp.After(r.pktTime) {
				r.pktTime = ci.Timestamp
			}
			// The periodic work every 4096 packets, and live at least
			// every tickEvery while packets trickle in (a link too slow to
			// fill 4096 but never quiet for a read timeout). A capture
			// file's epochs are counted in packets only: with several
			// workers they set the order rows are written in, hence
			// their ids, which must be the same when it is read again.
			if n&4095 != 0 && (n&255 != 0 || r.file != "" || time.Since(r.ticked) < tickEvery) {
				continue
			}
		case errors.Is(err, capture.ErrTimeout):
			// A quiet link: time moves on by the wall clock.
			now := time.Now()
			r.checkTime(now)
			r.pktTime = maxTime(r.pktTime, now)
			r.eng.Flush(r.pktTime)
		case errors.Is(err, io.EOF):
			return nil
		default:
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r.tick()
	}
}

// checkTime starts afresh when packet time t does not continue what was
// read so far: it went back (an older capture after a newer one, a live
// clock stepped back), or a new capture file begins later than anything
// open could wait for (the capture was not running in between). Otherwise
// rows of the older traffic would carry the newer time and land in the
// newer day's tables.
func (r *run) checkTime(t time.Time) {
	newFile := r.newFile
	r.newFile = false
	if r.pktTime.IsZero() {
		return
	}
	back := audit.SteppedBack(r.pktTime, t)
	if !back && !(newFile && t.Sub(r.pktTime) > r.p.cfg.Audit.LongestTimeout()) {
		return
	}
	if back {
		r.p.cfg.Logger.Info("packet time went back: ending every open session and window, starting afresh",
			"from", r.pktTime, "to", t, "file", r.file)
	} else {
		r.p.cfg.Logger.Info("capture file starts long after the previous one ended: ending every open session and window",
			"from", r.pktTime, "to", t, "file", r.file)
	}
	r.restart(t)
}

// restart ends everything open (sessions as "capture end", F and T sums,
// attachment bundles, sync_file windows) and sets packet time to t.
func (r *run) restart(t time.Time) {
	r.eng.Restart(t)
	r.recs.Restart()
	if err := r.sp.Close(); err != nil {
		r.p.cfg.Logger.Error("publishing sync_files", "err", err)
	}
	r.pktTime = t
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// tick closes the windows that ended by packet time and, every
// LoadInterval of wall time, flushes rows to the files. With several
// workers this happens on the lanes' goroutines and the files goroutine,
// behind the rows of the epoch tick ends.
func (r *run) tick() {
	r.ticked = time.Now()
	flush := time.Since(r.lastFlush) >= r.p.cfg.LoadInterval
	if flush {
		r.lastFlush = time.Now()
	}
	if s, ok := r.eng.(*shards); ok {
		s.Epoch(r.pktTime, func(k int, applied time.Time) { r.advanceRows(k, applied, flush) },
			func(applied time.Time) { r.advanceFiles(applied, flush, s.refused) })
	} else {
		// What has timed out ends now, as each of several workers' engines
		// does at an epoch's end, so that the F and T sums are split into
		// rows the same way for any number of workers.
		if !r.pktTime.IsZero() {
			r.eng.Flush(r.pktTime)
		}
		r.advanceRows(0, r.pktTime, flush)
		r.advanceFiles(r.pktTime, flush, 0)
	}
	if flush || time.Since(r.published) >= publishEvery {
		r.publish()
	}
}

// advanceRows is tick's work on lane k's recorder: now is the packet time
// up to which events are applied.
func (r *run) advanceRows(k int, now time.Time, flush bool) {
	if !now.IsZero() {
		r.recs[k].Advance(now)
	}
	if flush {
		r.noteRecord(k)
	}
}

// advanceFiles is tick's work on the spool, after the rows of
// advanceRows: windows ended by now are published; with flush, every
// window's rows are written. refused counts the rows the spool refused
// so far that the recorder does not know of.
func (r *run) advanceFiles(now time.Time, flush bool, refused uint64) {
	log := r.p.cfg.Logger
	if !now.IsZero() {
		if err := r.sp.Advance(now); err != nil {
			log.Error("publishing sync_files", "err", err)
		}
	}
	if flush {
		if err := r.sp.Flush(); err != nil {
			log.Error("flushing rows (kept in memory and retried)", "err", err)
		}
		r.noteSpool(refused)
	}
}

// tickEvery is the longest the periodic work waits while packets come.
const tickEvery = 100 * time.Millisecond
