package rollup

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// Block is the unit of recomputation: one gateway's rows of one source
// table in one 4-hour block of a day (00:00, 04:00, ... 20:00). Every
// bucket of every period lies inside one block, so recomputing a block
// from all its sync_files recomputes every bucket a window touches.
type Block struct {
	Gateway string
	Day     string // YYYYMMDD
	Letter  byte
	Index   int // 0..5: the block starts at Index*4 o'clock
}

// BlocksPerDay is how many 4-hour blocks a day has.
const BlocksPerDay = 24 * 60 / BlockMinutes

func (b Block) String() string {
	return fmt.Sprintf("%c/%s/%s/%02d00", b.Letter, b.Gateway, b.Day, b.Index*4)
}

// BlockOf returns the block a sync_file belongs to.
func BlockOf(n logfile.Name) Block {
	return Block{Gateway: n.Gateway, Day: n.Day(), Letter: n.Table, Index: n.Window.Hour() / 4}
}

// dashedDay is the day as DATETIME text writes it: 2026-11-21.
func (b Block) dashedDay() string { return b.Day[:4] + "-" + b.Day[4:6] + "-" + b.Day[6:] }

// clock returns the DATETIME text of a minute of the block's day.
func (b Block) clock(minute int) string {
	return fmt.Sprintf("%s %02d:%02d:00", b.dashedDay(), minute/60, minute%60)
}

// Start and End are the block's bounds as DATETIME text (End exclusive;
// 24:00 is written as the next day's 00:00).
func (b Block) Start() string { return b.clock(b.Index * BlockMinutes) }

// End is the exclusive end of the block.
func (b Block) End() string {
	if b.Index == BlocksPerDay-1 {
		d, _ := time.Parse(schema.DayLayout, b.Day)
		return d.AddDate(0, 0, 1).Format(time.DateTime)
	}
	return b.clock((b.Index + 1) * BlockMinutes)
}

type sums [maxMeasures]uint64

// agg maps a fine key (slot byte, then every dimension of the source,
// each as 0 for NULL or 1, uvarint length, bytes) to its sums.
type agg map[string]*sums

func (a agg) merge(b agg) {
	for k, s := range b {
		if t := a[k]; t != nil {
			for i := range t {
				t[i] += s[i]
			}
		} else {
			c := *s
			a[k] = &c
		}
	}
}

// plan says where a source's fields are in a row of its files.
type plan struct {
	src      *Source
	table    *schema.Table
	nfields  int
	tsField  int
	dimField []int // per source dimension, in DimOrder
	dimWidth []int
	measure  []int // field per measure; -1 counts rows
	measMax  []uint64
}

func newPlan(src *Source) (*plan, error) {
	t, ok := schema.ByLetter(src.Letter)
	if !ok {
		return nil, fmt.Errorf("no log table %c", src.Letter)
	}
	cols := t.FileColumns()
	idx := func(name string) (int, error) {
		if i := slices.Index(cols, name); i >= 0 {
			return i, nil
		}
		return 0, fmt.Errorf("table %c has no column %q", src.Letter, name)
	}
	p := &plan{src: src, table: t, nfields: len(cols)}
	var err error
	if p.tsField, err = idx("ts"); err != nil {
		return nil, err
	}
	for _, l := range []byte(src.Dims()) {
		i, err := idx(src.DimColumns[l])
		if err != nil {
			return nil, err
		}
		d, _ := DimByLetter(l)
		p.dimField = append(p.dimField, i)
		p.dimWidth = append(p.dimWidth, d.Width)
	}
	for _, m := range src.Measures {
		i := -1
		if m.From != "" {
			if i, err = idx(m.From); err != nil {
				return nil, err
			}
		}
		p.measure = append(p.measure, i)
		p.measMax = append(p.measMax, m.Max)
	}
	return p, nil
}

// fileStats counts what reading one file found.
type fileStats struct {
	Rows  int64 // rows aggregated
	Bad   int64 // rows skipped: wrong field count or unreadable ts
	Stray int64 // rows whose ts is outside the file's block
	Torn  error // a torn or damaged tail (its complete rows count)
}

// aggregator aggregates the rows of files into an agg. Not safe for
// concurrent use; each worker has its own.
type aggregator struct {
	p       *plan
	block   Block
	day     []byte // 2026-11-21
	fields  [][2]int
	key     []byte
	scratch []byte
	up      []byte // a row of an earlier layout, upgraded
}

func newAggregator(p *plan, b Block) *aggregator {
	return &aggregator{p: p, block: b, day: []byte(b.dashedDay()), fields: make([][2]int, 0, p.nfields+1)}
}

// file aggregates one sync_file. A torn tail is not an error: its
// complete rows count, as they do for loader.
func (a *aggregator) file(path string) (agg, fileStats, error) {
	var st fileStats
	s, err := logfile.OpenRows(path, logfile.LZ4)
	if err != nil {
		return nil, st, fmt.Errorf("open %s: %w", path, err)
	}
	defer s.Close()
	out := make(agg)
	rows := logfile.NewRows(s)
	for rows.Next() {
		switch a.row(out, rows.Row()) {
		case rowOK:
			st.Rows++
		case rowBad:
			st.Bad++
		case rowStray:
			st.Stray++
		}
	}
	if err := rows.Err(); err != nil {
		var ce *logfile.CorruptionError
		if !errors.As(err, &ce) {
			return nil, st, err
		}
		st.Torn = err
	}
	return out, st, nil
}

type rowResult int

const (
	rowOK rowResult = iota
	rowBad
	rowStray
)

// row adds one row to out.
func (a *aggregator) row(out agg, row []byte) rowResult {
	f, ok := a.split(row)
	if !ok {
		return rowBad
	}
	if len(f) != a.p.nfields {
		// A row an older aclog wrote (schema.Layout) counts as it does
		// once loaded: upgraded (old U rows stand for one request).
		if len(f) > a.p.nfields || !a.p.table.NeedsUpgrade() {
			return rowBad
		}
		up, err := a.p.table.UpgradeRow(a.up[:0], row)
		if err != nil {
			return rowBad
		}
		a.up = up
		return a.row(out, slices.Clip(up))
	}
	minute, res := a.minute(row[f[a.p.tsField][0]:f[a.p.tsField][1]])
	if res != rowOK {
		return res
	}
	key := a.appendKey(append(a.key[:0], byte(minute/30)), row, f)
	a.key = key
	s := out[string(key)]
	if s == nil {
		s = new(sums)
		out[string(key)] = s
	}
	for i, fi := range a.p.measure {
		if fi < 0 {
			s[i]++
			continue
		}
		s[i] += parseUint(row[f[fi][0]:f[fi][1]], a.p.measMax[i])
	}
	return rowOK
}

// split cuts row at its tabs into a.fields; false when it has more fields
// than the table.
func (a *aggregator) split(row []byte) ([][2]int, bool) {
	f := a.fields[:0]
	start := 0
	for i, c := range row {
		if c == '\t' {
			f = append(f, [2]int{start, i})
			start = i + 1
			if len(f) > a.p.nfields {
				return nil, false
			}
		}
	}
	f = append(f, [2]int{start, len(row)})
	a.fields = f
	return f, true
}

// minute is the minute into the block of the row time ts; rowBad when ts
// is not one, rowStray when it is outside the block.
func (a *aggregator) minute(ts []byte) (int, rowResult) {
	// 2026-11-21 13:05:00.000000: the files write wall-clock local time,
	// which is what buckets are made of.
	if len(ts) < 16 || ts[10] != ' ' || ts[13] != ':' {
		return 0, rowBad
	}
	hh, ok1 := twoDigits(ts[11:13])
	mm, ok2 := twoDigits(ts[14:16])
	if !ok1 || !ok2 || hh > 23 || mm > 59 {
		return 0, rowBad
	}
	minute := hh*60 + mm - a.block.Index*BlockMinutes
	if !bytes.Equal(ts[:10], a.day) || minute < 0 || minute >= BlockMinutes {
		return 0, rowStray
	}
	return minute, rowOK
}

// appendKey appends to key the row's dimension values (fields f), each
// unescaped and cut as its column would hold it.
func (a *aggregator) appendKey(key, row []byte, f [][2]int) []byte {
	for i, fi := range a.p.dimField {
		v := row[f[fi][0]:f[fi][1]]
		if len(v) == 2 && v[0] == '\\' && v[1] == 'N' {
			key = append(key, 0)
			continue
		}
		if bytes.IndexByte(v, '\\') >= 0 {
			a.scratch = logfile.AppendUnescaped(a.scratch[:0], v)
			v = a.scratch
		}
		if len(v) > a.p.dimWidth[i] {
			v = v[:a.p.dimWidth[i]] // as LOAD DATA cuts a value too long for its column
		}
		key = append(key, 1)
		key = binary.AppendUvarint(key, uint64(len(v)))
		key = append(key, v...)
	}
	return key
}

func twoDigits(b []byte) (int, bool) {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

// parseUint reads a number the way LOAD DATA stores it in an unsigned
// column: leading digits, NULL and negatives as 0, too big clipped to max.
func parseUint(b []byte, max uint64) uint64 {
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		d := uint64(c - '0')
		if v > (max-d)/10 {
			return max
		}
		v = v*10 + d
	}
	return v
}
