package logfile

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/schema"
)

// WindowLength is the span of one sync_file.
const WindowLength = 5 * time.Minute

// Extensions of the files.
const (
	SyncExt     = ".dat"
	PartExt     = ".dat.part" // a sync_file whose window is still open
	LoadExt     = ".load"
	BackfillExt = ".backfill" // asks loader to load a whole sync_file
)

// WindowStart returns the start of the 5-minute window holding t, in t's
// location: wall-clock minutes are what names files and tables.
func WindowStart(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, _ := t.Clock()
	return time.Date(y, mo, d, h, mi-mi%5, 0, 0, t.Location())
}

// windowCache is WindowStart for times that keep falling in the same
// window, as a spool's rows do: the date and clock of a time cost more
// than the rest of the row's routing.
type windowCache struct {
	start    time.Time
	loc      *time.Location
	from, to int64 // the Unix seconds whose window is start; none if from == to
}

func (c *windowCache) of(t time.Time) time.Time {
	sec := t.Unix()
	if t.Location() == c.loc && sec >= c.from && sec < c.to {
		return c.start
	}
	start := WindowStart(t)
	c.start, c.loc = start, t.Location()
	c.from, c.to = start.Unix(), start.Unix()
	// The span is kept only when the window starts on a 5-minute
	// boundary of the wall clock and one offset from UTC covers it whole
	// (not around a change of offset): then every instant of it has
	// start's date, hour and minute/5, and WindowStart, a function of
	// those, returns start.
	_, off := start.Zone()
	_, zoneTo := start.ZoneBounds() // zero: the period has no end
	const span = int64(WindowLength / time.Second)
	if (c.from+int64(off))%span == 0 && (zoneTo.IsZero() || zoneTo.Unix() >= c.from+span) {
		c.to = c.from + span
	}
	return start
}

// Name identifies a sync_file: YYYYMMDD_HHMM_<GW>_<T>.dat.
type Name struct {
	Window  time.Time // start of the 5-minute window, local time
	Gateway string    // 8 hex digits
	Table   byte      // table letter, or 'X' for the attachment bundle
}

// String returns the file name, without directory.
func (n Name) String() string {
	return n.Window.Format("20060102_1504") + "_" + n.Gateway + "_" + string(n.Table) + SyncExt
}

// Day returns the day of the window as YYYYMMDD.
func (n Name) Day() string { return n.Window.Format(schema.DayLayout) }

// DayTable returns the name of the day table the rows go into.
func (n Name) DayTable() string { return string(n.Table) + n.Day() }

// WindowIndex is the number of the window in its day, 0..287.
func (n Name) WindowIndex() uint64 {
	h, m, _ := n.Window.Clock()
	return uint64(h*60+m) / 5
}

// Dir returns where the file lives under the data root:
// <root>/sync/<GW>/<YYYYMMDD>.
func (n Name) Dir(root string) string {
	return dataroot.Root(root).SyncDay(n.Gateway, n.Day())
}

// Path returns the published path of the file under the data root.
func (n Name) Path(root string) string { return filepath.Join(n.Dir(root), n.String()) }

// ValidGateway reports whether gw is 8 hex digits (upper case).
func ValidGateway(gw string) bool {
	if len(gw) != 8 {
		return false
	}
	for i := 0; i < len(gw); i++ {
		c := gw[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ParseName parses a sync_file name (with or without .part), reading the
// window in loc.
func ParseName(base string, loc *time.Location) (Name, error) {
	s := strings.TrimSuffix(base, ".part")
	s, ok := strings.CutSuffix(s, SyncExt)
	if !ok {
		return Name{}, fmt.Errorf("%q: not a sync_file name (want YYYYMMDD_HHMM_GW_T%s)", base, SyncExt)
	}
	// YYYYMMDD_HHMM_GGGGGGGG_T
	if len(s) != 8+1+4+1+8+1+1 || s[8] != '_' || s[13] != '_' || s[22] != '_' {
		return Name{}, fmt.Errorf("%q: not a sync_file name (want YYYYMMDD_HHMM_GW_T%s)", base, SyncExt)
	}
	w, err := time.ParseInLocation("20060102_1504", s[:13], loc)
	if err != nil {
		return Name{}, fmt.Errorf("%q: bad window: %w", base, err)
	}
	if w.Minute()%5 != 0 {
		return Name{}, fmt.Errorf("%q: window %s does not start on a 5-minute boundary", base, s[:13])
	}
	n := Name{Window: w, Gateway: s[14:22], Table: s[23]}
	if !ValidGateway(n.Gateway) {
		return Name{}, fmt.Errorf("%q: gateway %q is not 8 hex digits", base, n.Gateway)
	}
	if _, ok := schema.ByLetter(n.Table); !ok && n.Table != schema.Attachments {
		return Name{}, fmt.Errorf("%q: unknown table letter %q", base, n.Table)
	}
	return n, nil
}

// LoadName identifies a load_file: the sync_file it shadows and the id of
// its first row, so that name order is time order:
// YYYYMMDD_HHMM_<GW>_<T>_<first id, 20 digits>.load.
type LoadName struct {
	Sync    Name
	FirstID uint64
}

func (n LoadName) String() string {
	s := strings.TrimSuffix(n.Sync.String(), SyncExt)
	return fmt.Sprintf("%s_%020d%s", s, n.FirstID, LoadExt)
}

// ParseLoadName parses a load_file name.
func ParseLoadName(base string, loc *time.Location) (LoadName, error) {
	s, ok := strings.CutSuffix(base, LoadExt)
	i := strings.LastIndexByte(s, '_')
	if !ok || i < 0 {
		return LoadName{}, fmt.Errorf("%q: not a load_file name", base)
	}
	id, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return LoadName{}, fmt.Errorf("%q: not a load_file name: %w", base, err)
	}
	sn, err := ParseName(s[:i]+SyncExt, loc)
	if err != nil {
		return LoadName{}, err
	}
	return LoadName{Sync: sn, FirstID: id}, nil
}

// LoadDir is where load_files are published under the data root.
func LoadDir(root string) string { return dataroot.Root(root).Load() }

// MakeID returns the id of the seq-th row of a window: the window's index in
// its day in the high bits, so ids are unique per gateway, table and day and
// grow with time.
func MakeID(window Name, seq uint64) uint64 { return makeID(window.WindowIndex(), seq) }

// makeID is MakeID of the window whose index is index.
func makeID(index, seq uint64) uint64 { return index<<40 | seq }

// idSeq returns the sequence part of an id.
func idSeq(id uint64) uint64 { return id & (1<<40 - 1) }

// Rows read from a capture file get ids that depend only on the capture and
// the row's place in it, so that processing the capture again (after a crash,
// or with aclog -reprocess) reproduces the same ids and every load stays
// idempotent. The 40-bit sequence of such an id is split: the capture's slot
// (1..MaxCaptureSlot, given by aclog's capture ledger) in the high
// CaptureSlotBits, the row's number among that capture's rows of the window
// in the low CaptureSeqBits. Slot 0 is live capture, whose sequence simply
// continues after the highest live id in the file.
const (
	CaptureSlotBits = 14
	CaptureSeqBits  = 40 - CaptureSlotBits
	MaxCaptureSlot  = 1<<CaptureSlotBits - 1
	MaxCaptureRows  = 1 << CaptureSeqBits // rows of one capture in one window file
)

// MakeCaptureID returns the id of the n-th row of the capture in slot slot
// in a window.
func MakeCaptureID(window Name, slot, n uint64) uint64 {
	return makeID(window.WindowIndex(), captureSeq(slot, n))
}

// captureSeq is the sequence part of the id of the n-th row of slot.
func captureSeq(slot, n uint64) uint64 { return slot<<CaptureSeqBits | n }

// IDSlot returns the capture slot of an id (0: live capture).
func IDSlot(id uint64) uint64 { return idSeq(id) >> CaptureSeqBits }
