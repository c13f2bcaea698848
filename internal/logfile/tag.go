package logfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// captureTag is the capture file whose rows the Spool is taking.
type captureTag struct {
	slot    uint64
	touched func(Name) error
}

// Tag makes the rows committed from now on rows of the capture in slot
// (1..MaxCaptureSlot): their ids are MakeCaptureID(window, slot, n), n
// counting from 0 in each window. touched is called, before the first such
// row of each window is taken, with the window's name; it must record the
// name durably, so that after a crash the capture's rows can be found and
// removed (Purge) before it is processed again. An error from touched
// refuses the row.
func (s *Spool) Tag(slot uint64, touched func(Name) error) error {
	if slot == 0 || slot > MaxCaptureSlot {
		return fmt.Errorf("capture slot %d out of range 1..%d", slot, MaxCaptureSlot)
	}
	s.tag = &captureTag{slot: slot, touched: touched}
	return nil
}

// Untag goes back to live ids (capture slot 0).
func (s *Spool) Untag() { s.tag = nil }

// nextID gives the next row of window w its id.
func (s *Spool) nextID(w *window) (uint64, error) {
	t := s.tag
	if t == nil {
		id := makeID(w.index, w.seq)
		w.seq++
		return id, nil
	}
	if w.tagSlot != t.slot {
		if err := t.touched(w.name); err != nil {
			return 0, fmt.Errorf("recording that capture slot %d writes %s: %w", t.slot, w.name, err)
		}
		w.tagSlot, w.tagSeq = t.slot, 0
		if m, ok := w.slotMax[t.slot]; ok {
			// The window was published and reopened for this capture's
			// later rows: go on after its rows.
			w.tagSeq = idSeq(m)&(MaxCaptureRows-1) + 1
		}
	}
	if w.tagSeq >= MaxCaptureRows {
		return 0, fmt.Errorf("%s: more than %d rows of one capture in one window", w.name, MaxCaptureRows)
	}
	id := makeID(w.index, captureSeq(t.slot, w.tagSeq))
	w.tagSeq++
	return id, nil
}

// Purge removes from the sync_file of window n the rows of capture slot
// slot, and reports how many it removed. An open window is flushed and
// published first; the file is rewritten atomically (one frame of the
// rows kept). A file that does not exist holds nothing to remove.
func (s *Spool) Purge(n Name, slot uint64) (int, error) {
	if w := s.windows[n]; w != nil {
		if err := s.close(w); err != nil {
			return 0, err
		}
	}
	path := n.Path(s.cfg.Root)
	rs, err := OpenRows(path, LZ4)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", path, err)
	}
	codec := rs.Codec()
	rows := NewRows(rs)
	var keep []byte
	removed := 0
	for rows.Next() {
		row := rows.Row()
		id, err := RowID(row)
		if err != nil {
			rs.Close()
			return 0, fmt.Errorf("purge %s row %d: %w", path, rows.Count(), err)
		}
		if IDSlot(id) == slot {
			removed++
			continue
		}
		keep = append(keep, row...)
		keep = append(keep, '\n')
	}
	rs.Close()
	if removed == 0 && rows.Err() == nil {
		return 0, nil
	}
	var buf writeBuffer
	if len(keep) > 0 {
		if err := appendFrame(&buf, codec, keep); err != nil {
			return 0, err
		}
	}
	if err := WriteFileAtomic(path, filepath.Dir(path), buf); err != nil {
		return 0, fmt.Errorf("purge %s: %w", path, err)
	}
	return removed, nil
}

// Held reports the rows and bytes the Spool holds in memory, not yet in a
// sync_file: normally the rows since the last Flush; more while the disk
// refuses writes. It is bounded by MaxHeldPerWindow per open window.
func (s *Spool) Held() (rows int, bytes int) {
	for _, w := range s.windows {
		r, b := w.held()
		rows, bytes = rows+r, bytes+b
	}
	return rows, bytes
}

// HeldBy reports, per sync_file, the rows held in memory (Held).
func (s *Spool) HeldBy() map[Name]int {
	out := make(map[Name]int)
	for n, w := range s.windows {
		if rows, _ := w.held(); rows > 0 {
			out[n] = rows
		}
	}
	return out
}

// held is what window w holds in memory: its pending rows and those of
// its frames in flight.
func (w *window) held() (rows, bytes int) {
	return w.rows + w.jobRows, w.pending.size + w.jobBytes
}

// MaxHeldPerWindow is the most bytes of rows one open window holds in
// memory while its sync_file cannot be written (a few frames, and one in
// flight per frame writer); beyond it rows are dropped and counted.
func (s *Spool) MaxHeldPerWindow() int {
	return (maxPendingFrames + s.cfg.Writers) * s.cfg.MaxFrameBytes
}
