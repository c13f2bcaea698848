package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/google/gopacket"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/aclog/internal/capture"
	"github.com/acstore/acstore/aclog/internal/record"
	"github.com/acstore/acstore/aclog/internal/source"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// errUnwritten says a capture's rows could not all be written.
var errUnwritten = errors.New("rows not written")

// captureFile processes one capture file as a unit that is done or not:
//
//   - a capture the ledger knows as done (by content, whatever its name) is
//     skipped with a log line, unless -reprocess;
//   - the rows an earlier attempt left (a crash part-way, a full disk) or,
//     with -reprocess, the rows it produced are removed from the sync_files
//     first, and processing it again gives its rows the same ids (capture
//     slot, row number), so nothing is doubled in the sync_files and the
//     database keeps loading idempotently;
//   - it is read with an engine and recorder of its own, which are ended at
//     its end (every open session, sum and attachment bundle written and
//     flushed), so that its rows depend on it alone;
//   - only when all of them are in sync_files is it recorded as done.
//
// A session that goes on from one capture file into the next is therefore
// recorded as two sessions, one in each.
func (r *run) captureFile(ctx context.Context, path string) (done bool, err error) {
	log := r.p.cfg.Logger
	key, err := source.Identify(path)
	if err != nil {
		r.snap.BadFiles++
		log.Error("cannot read capture file; skipping it", "file", path, "err", err)
		return false, nil
	}
	prior, wasDone := r.ledger.Done(key)
	if wasDone && !r.p.cfg.Reprocess {
		r.snap.Skipped++
		log.Info("capture already processed; skipping it (-reprocess replaces its rows)", "file", path,
			"processed_as", prior.Name, "rows", prior.Rows)
		return true, nil
	}
	src, err := capture.OpenFile(path)
	if err != nil {
		r.snap.BadFiles++
		log.Error("cannot read capture file; skipping it", "file", path, "err", err)
		return false, nil
	}
	defer src.Close()
	o, err := r.beginCapture(key, path, prior, wasDone)
	if err != nil {
		return false, err
	}
	defer r.sp.Untag()
	if err := r.freshEngine(); err != nil {
		return false, err
	}
	r.recs.SetSource(sourceName(path))
	before := r.unwritten()
	rowsBefore := r.rowsWritten()
	ts := &timedSource{Source: src}
	// Packet time starts afresh with each capture: its rows must not
	// depend on the time of the captures read before it.
	r.pktTime = time.Time{}
	r.file, r.newFile = path, true
	err = r.feed(ctx, ts)
	r.srcBase = addStats(r.srcBase, src.Stats())
	r.src = nil
	if err := r.fed(path, err); err != nil {
		return false, err
	}
	return r.endCapture(path, o, ts, before, rowsBefore)
}

// beginCapture records in the ledger that the capture key at path is
// being processed, removes the rows of its earlier attempt (prior, done
// if wasDone) and tags what is written from now on as its rows. The
// caller untags.
func (r *run) beginCapture(key source.Key, path string, prior source.Done, wasDone bool) (*source.Open, error) {
	o, err := r.ledger.Begin(key, path)
	if err != nil {
		return nil, err
	}
	if err := r.purge(o, prior, wasDone); err != nil {
		return nil, err
	}
	if err := r.sp.Tag(o.Slot, func(n logfile.Name) error { return r.ledger.Touch(o, windowFiles(n)...) }); err != nil {
		return nil, err
	}
	return o, nil
}

// windowFiles returns the name n and those of every other log table of its
// window. The ledger records them all when the window's first sync_file is
// opened: one durable write of the ledger per window, not one per table
// (each two fsyncs that everything behind the files goroutine waits for).
// A name the capture never wrote costs purge nothing: it finds no file, or
// no row of the capture's slot in it.
func windowFiles(n logfile.Name) []logfile.Name {
	names := []logfile.Name{n}
	for _, t := range schema.LogTables() {
		if t.Letter != n.Table {
			names = append(names, logfile.Name{Window: n.Window, Gateway: n.Gateway, Table: t.Letter})
		}
	}
	return names
}

// fed counts and logs how reading the capture at path ended (err): a
// truncated or damaged file is used up to its fault; only a cancellation
// is returned.
func (r *run) fed(path string, err error) error {
	log := r.p.cfg.Logger
	var te *capture.TruncatedError
	switch {
	case errors.As(err, &te):
		r.snap.Truncated++
		log.Warn("capture file is truncated; every packet before the cut was used", "file", path, "err", err)
	case errors.Is(err, context.Canceled):
		log.Warn("stopped in the middle of a capture; run the same command again to complete it (its rows are replaced, none doubled)",
			"file", path)
		return err
	case err != nil:
		r.snap.BadFiles++
		log.Error("capture file is damaged; the packets before the damage were used", "file", path, "err", err)
	}
	return nil
}

// endCapture ends the capture at path (read through ts): everything it
// left open is written and flushed and, when all its rows (those past
// before unwritten and rowsBefore written) are in sync_files, the ledger
// records it done.
func (r *run) endCapture(path string, o *source.Open, ts *timedSource, before, rowsBefore uint64) (done bool, err error) {
	log := r.p.cfg.Logger
	// The capture's end: everything it left open is written and flushed.
	r.end()
	flushErr := r.sp.Flush()
	r.lastFlush = time.Now()
	r.noteWrites()
	if lost := r.unwritten() - before; lost > 0 || flushErr != nil {
		r.publish()
		return false, r.notWritten(path, lost, flushErr)
	}
	rows := r.rowsWritten() - rowsBefore
	if err := r.ledger.Finish(o, ts.first, ts.last, rows); err != nil {
		return false, err
	}
	log.Info("capture processed", "file", path, "rows", rows, "packets", ts.Source.Stats().Packets)
	r.publish()
	return true, nil
}

// notWritten says exactly what of capture path could not be written, and
// how to complete it.
func (r *run) notWritten(path string, refused uint64, flushErr error) error {
	held := r.sp.HeldBy()
	names := make([]logfile.Name, 0, len(held))
	for n := range held {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i].String() < names[j].String() })
	var b strings.Builder
	total := 0
	for _, n := range names {
		fmt.Fprintf(&b, " %s (%d rows)", n, held[n])
		total += held[n]
	}
	first := flushErr
	if j, ok := flushErr.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
		first = j.Unwrap()[0]
	}
	// Why rows were refused, whichever goroutine committed them.
	why, whyText := r.refusedWhy(), ""
	switch {
	case first == nil && why != nil:
		first = why
	case first == nil:
		first = errors.New("see the errors logged above")
	case why != nil:
		whyText = fmt.Sprintf(" (the last because: %v)", why)
	}
	return fmt.Errorf("capture %s: %w: %d rows could not be added to these sync_files:%s; %d more were refused%s "+
		"(first error: %v). The capture stays unfinished and the rows held are dropped at exit: free space under %s "+
		"and run the same command again; it replaces what this run wrote with the same rows and ids, none doubled",
		path, errUnwritten, total, b.String(), refused, whyText, first, r.p.cfg.Root)
}

// purge removes the rows of capture o from the sync_files: those an
// unfinished attempt wrote (the windows the ledger recorded) and, when the
// capture was done before (-reprocess), those of every window between its
// first and last packet.
func (r *run) purge(o *source.Open, done source.Done, wasDone bool) error {
	names := make(map[logfile.Name]bool)
	for _, s := range o.Windows {
		n, err := logfile.ParseName(s, time.Local)
		if err != nil {
			return fmt.Errorf("capture ledger: %w", err)
		}
		names[n] = true
	}
	if wasDone {
		for w := logfile.WindowStart(done.First.Local()); !w.After(done.Last); w = w.Add(logfile.WindowLength) {
			for _, t := range schema.LogTables() {
				names[logfile.Name{Window: w, Gateway: r.p.cfg.Gateway, Table: t.Letter}] = true
			}
		}
	}
	removed := 0
	for n := range names {
		k, err := r.sp.Purge(n, o.Slot)
		if err != nil {
			return err
		}
		removed += k
	}
	if removed > 0 {
		r.p.cfg.Logger.Info("removed the rows an earlier processing of this capture wrote; they are written again with the same ids",
			"file", o.Name, "rows", removed)
	}
	return nil
}

// freshEngine gives the next capture an engine and recorder of its own,
// keeping the counters of the previous ones.
func (r *run) freshEngine() error {
	if r.eng != nil {
		r.end()
		r.engBase = addEngineStats(r.engBase, r.eng.Stats())
		r.recBase = addRecordStats(r.recBase, r.recs.Stats())
		r.recErrBase += r.recs.Errors() + r.refused()
	}
	var eng engine
	var err error
	if workers := r.p.cfg.Workers; workers <= 1 {
		// One engine on the loop's goroutine, writing to the spool.
		r.recs = newRecorders([]logfile.RowWriter{r.sp}, r.conf, r.rc)
		eng, err = audit.New(r.p.cfg.Audit, r.recs[0])
	} else {
		// As many lanes as workers, each recorder writing to a batcher.
		rows := make([]*batcher, workers)
		ws := make([]logfile.RowWriter, workers)
		for k := range rows {
			rows[k] = newBatcher(r.sp)
			ws[k] = rows[k]
		}
		r.recs = newRecorders(ws, r.conf, r.rc)
		eng, err = newShards(r.p.cfg.Audit, workers, r.recs.sinks(), rows)
	}
	if err != nil {
		return err
	}
	r.wmu.Lock()
	r.writes.lanes = make([]laneWrites, len(r.recs))
	r.wmu.Unlock()
	r.eng = eng
	return nil
}

// end ends the engine and then the recorders: every open session, sum
// and attachment bundle is written. With several workers each recorder
// ends on its lane's goroutine, their rows committed by the files
// goroutine meanwhile.
func (r *run) end() {
	if s, ok := r.eng.(*shards); ok {
		s.CloseWith(func(k int) { r.recs[k].Close() })
		return
	}
	r.eng.Close()
	r.recs.Close()
}

// unwritten counts the rows that could not be written so far.
func (r *run) unwritten() uint64 {
	return r.recErrBase + r.recs.Errors() + r.refused() // rows the spool dropped are among them
}

// openLedger opens the capture ledger and says which captures an earlier
// run left unfinished.
func openLedger(cfg Config) (*source.Ledger, error) {
	l, err := source.OpenLedger(cfg.Root)
	if err != nil {
		return nil, err
	}
	for _, o := range l.Unfinished() {
		cfg.Logger.Warn("a capture was begun and not finished (a crash, a stop, or rows that could not be written); "+
			"process it again to complete it: the rows it has so far are replaced, none doubled",
			"file", o.Name, "since", o.Begun.Format(time.RFC3339), "sync_files", len(o.Windows))
	}
	return l, nil
}

func (r *run) rowsWritten() uint64 {
	n := uint64(0)
	for _, v := range r.sp.Stats().Rows {
		n += v
	}
	return n
}

// timedSource notes the time of the first and last packet of a capture.
type timedSource struct {
	capture.Source
	first, last time.Time
}

func (t *timedSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := t.Source.ReadPacket()
	if err == nil {
		if t.first.IsZero() || ci.Timestamp.Before(t.first) {
			t.first = ci.Timestamp
		}
		if ci.Timestamp.After(t.last) {
			t.last = ci.Timestamp
		}
	}
	return data, ci, err
}

// addEngineStats adds every counter of b to a. audit.Stats is a flat
// struct of counters; adding them by reflection keeps this in step with
// it.
func addEngineStats(a, b audit.Stats) audit.Stats {
	va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		if f := va.Field(i); f.Kind() == reflect.Uint64 && f.CanSet() {
			f.SetUint(f.Uint() + vb.Field(i).Uint())
		}
	}
	return a
}

func addRecordStats(a, b record.Stats) record.Stats {
	a.XFiles += b.XFiles
	a.XBytes += b.XBytes
	a.XBundles += b.XBundles
	a.XCutFile += b.XCutFile
	a.XCutWindow += b.XCutWindow
	a.XErrors += b.XErrors
	reduced := make(map[string]uint64, len(a.Reduced)+len(b.Reduced))
	for k, v := range a.Reduced {
		reduced[k] += v
	}
	for k, v := range b.Reduced {
		reduced[k] += v
	}
	a.Reduced = reduced
	return a
}
