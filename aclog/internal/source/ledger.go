// Package source decides which capture files aclog reads and remembers
// which it has read: the capture ledger (by content, in the data root),
// capture directories (every capture in time order, optionally one day),
// and a directory that tcpdump rotates into (-watch).
package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
)

// Ledger is aclog's memory of the capture files it processed, in
// <data>/state/aclog:
//
//   - done.log: one line per capture finished, appended and fsynced:
//     "<key> <slot> <first packet ns> <last packet ns> <rows> <name>". A
//     torn last line (a crash while appending) is ignored. About 150 bytes
//     a capture.
//   - open.json: the captures begun and not finished, with the windows they
//     wrote rows into, and the last slot given, replaced atomically
//     (temporary file, fsync, rename) each time a capture begins, touches a
//     new window or ends.
//
// Each capture has a slot (1..logfile.MaxCaptureSlot, the next one after
// the last given, wrapping) that its row ids carry, so the rows it
// produced can be told apart and produced again with the same ids. A
// Ledger is not safe for concurrent use.
type Ledger struct {
	dir      string
	done     map[Key]Done
	open     map[Key]*Open
	lastSlot uint64
	journal  *os.File
}

// Done is a finished capture.
type Done struct {
	Key         Key
	Slot        uint64
	First, Last time.Time // packet times: its rows are in the windows between
	Rows        uint64
	Name        string
}

// Open is a capture begun and not finished: a crash, or rows it could not
// write. Windows lists the sync_files it may have rows in.
type Open struct {
	Key     Key       `json:"key"`
	Slot    uint64    `json:"slot"`
	Name    string    `json:"name"`
	Begun   time.Time `json:"begun"`
	Windows []string  `json:"windows"` // sync_file names, table included
}

// Dir is where the ledger lives under the data root.
func Dir(root string) string { return dataroot.Root(root).State("aclog") }

const (
	doneFile = "done.log"
	openFile = "open.json"
)

// OpenLedger reads the ledger of the data root, creating it if needed.
func OpenLedger(root string) (*Ledger, error) {
	l := &Ledger{dir: Dir(root), done: make(map[Key]Done), open: make(map[Key]*Open)}
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, fmt.Errorf("capture ledger: %w", err)
	}
	if err := l.readDone(); err != nil {
		return nil, err
	}
	if err := l.readOpen(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(l.dir, doneFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("capture ledger: %w", err)
	}
	l.journal = f
	return l, nil
}

// Close closes the journal.
func (l *Ledger) Close() error { return l.journal.Close() }

func (l *Ledger) readDone() error {
	path := filepath.Join(l.dir, doneFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("capture ledger: %w", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		// A torn last line: cut it, so the next line starts clean.
		if err := os.Truncate(path, int64(i+1)); err != nil {
			return fmt.Errorf("capture ledger: cut torn line: %w", err)
		}
		data = data[:i+1]
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		d, err := parseDone(sc.Text())
		if err != nil {
			return fmt.Errorf("capture ledger %s line %d: %w", path, n, err)
		}
		if _, again := l.done[d.Key]; !again {
			l.lastSlot = d.Slot // a reprocessed capture keeps its old slot
		}
		l.done[d.Key] = d
	}
	return nil
}

func parseDone(line string) (Done, error) {
	f := strings.SplitN(line, " ", 6)
	if len(f) != 6 {
		return Done{}, fmt.Errorf("want 6 fields, have %d", len(f))
	}
	var d Done
	var err error
	var nums [4]int64
	if d.Key, err = ParseKey(f[0]); err != nil {
		return d, err
	}
	for i := range nums {
		if nums[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return d, err
		}
	}
	d.Slot, d.First, d.Last, d.Rows = uint64(nums[0]), time.Unix(0, nums[1]), time.Unix(0, nums[2]), uint64(nums[3])
	d.Name = f[5]
	return d, nil
}

func (l *Ledger) readOpen() error {
	data, err := os.ReadFile(filepath.Join(l.dir, openFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("capture ledger: %w", err)
	}
	var f openState
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("capture ledger %s: %w", openFile, err)
	}
	if f.LastSlot > 0 {
		l.lastSlot = f.LastSlot
	}
	for _, o := range f.Captures {
		if _, done := l.done[o.Key]; done {
			continue // finished; the crash came before open.json was rewritten
		}
		l.open[o.Key] = o
	}
	return nil
}

// openState is the content of open.json.
type openState struct {
	// LastSlot is the slot given last, written before any row carries it.
	LastSlot uint64  `json:"last_slot"`
	Captures []*Open `json:"captures"`
}

// Done reports whether the capture with key k was processed to its end.
func (l *Ledger) Done(k Key) (Done, bool) {
	d, ok := l.done[k]
	return d, ok
}

// Unfinished lists the captures begun and never finished.
func (l *Ledger) Unfinished() []Open {
	out := make([]Open, 0, len(l.open))
	for _, o := range l.open {
		out = append(out, *o)
	}
	return out
}

// Begin records that the capture k (name is for people) is being
// processed and returns it; its slot is the one it had before (a capture
// begun or done earlier), else a new one.
func (l *Ledger) Begin(k Key, name string) (*Open, error) {
	o := l.open[k]
	if o == nil {
		o = &Open{Key: k, Name: name, Begun: time.Now()}
		if d, ok := l.done[k]; ok {
			o.Slot = d.Slot
		} else {
			l.lastSlot = l.lastSlot%logfile.MaxCaptureSlot + 1
			o.Slot = l.lastSlot
		}
		l.open[k] = o
	}
	o.Name = name
	return o, l.writeOpen()
}

// Touch records that capture o writes rows into the sync_files names,
// with one durable write of the ledger for all of them, none when every
// name is recorded already.
func (l *Ledger) Touch(o *Open, names ...logfile.Name) error {
	added := false
	for _, n := range names {
		s := n.String()
		if !slices.Contains(o.Windows, s) {
			o.Windows = append(o.Windows, s)
			added = true
		}
	}
	if !added {
		return nil
	}
	return l.writeOpen()
}

// Finish records that capture o was processed to its end: rows rows with
// packets from first to last.
func (l *Ledger) Finish(o *Open, first, last time.Time, rows uint64) error {
	d := Done{Key: o.Key, Slot: o.Slot, First: first, Last: last, Rows: rows, Name: o.Name}
	line := fmt.Sprintf("%s %d %d %d %d %s\n", d.Key, d.Slot, first.UnixNano(), last.UnixNano(), rows,
		strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return '?'
			}
			return r
		}, d.Name))
	if _, err := io.WriteString(l.journal, line); err != nil {
		return fmt.Errorf("capture ledger: %w", err)
	}
	if err := l.journal.Sync(); err != nil {
		return fmt.Errorf("capture ledger: %w", err)
	}
	l.done[d.Key] = d
	delete(l.open, o.Key)
	return l.writeOpen()
}

func (l *Ledger) writeOpen() error {
	f := openState{LastSlot: l.lastSlot, Captures: make([]*Open, 0, len(l.open))}
	for _, o := range l.open {
		f.Captures = append(f.Captures, o)
	}
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return err
	}
	if err := logfile.WriteFileAtomic(filepath.Join(l.dir, openFile), l.dir, data); err != nil {
		return fmt.Errorf("capture ledger: %w", err)
	}
	return nil
}
