// Package rollup builds and queries midtable's rollup tables: the summable
// fields of the A, F, T and U log tables (bytes, packets, sessions,
// requests, online time) summed by group, user, IP, app type and app over
// 30-minute, 1-hour and 4-hour buckets, in tables named
// Mid<T><dims><period><YYYYMMDD> (e.g. MidFGA1H20261121).
//
// Rollups are computed from the sync_files, never from the day tables (seed
// 001, "中间表"): a 4-hour block of one gateway and table is aggregated
// from all its sync_files and its buckets are replaced in every rollup
// table of that table at once. CATALOGUE.md beside this file lists the
// rollups and explains the guarantees; the Catalogue function is the same
// list as data.
package rollup

import (
	"fmt"
	"strings"
)

// Dim is a dimension a rollup can group by.
type Dim struct {
	Letter byte   // G, U, I, T or A: the letter in table names
	Column string // column name in rollup tables
	Type   string // SQL type, the same as the source column's
	Width  int    // bytes the source column keeps; longer values are cut as LOAD DATA does
}

// dims in the order their letters appear in table names.
var dims = []Dim{
	{'G', "grp", "VARBINARY(128) NULL", 128},
	{'U', "user", "VARBINARY(64) NULL", 64},
	{'I', "ip", "VARCHAR(45) CHARACTER SET ascii NULL", 45},
	{'T', "app_type", "VARBINARY(64) NULL", 64},
	{'A', "app", "VARBINARY(64) NULL", 64},
}

// DimOrder is the order of dimension letters in rollup table names.
const DimOrder = "GUITA"

// DimByLetter returns the dimension with that letter.
func DimByLetter(l byte) (Dim, bool) {
	for _, d := range dims {
		if d.Letter == l {
			return d, true
		}
	}
	return Dim{}, false
}

// Measure is one summed column of a rollup table.
type Measure struct {
	Column string // column name in rollup tables
	// From is the source column summed; empty means the measure counts
	// rows (sessions of A).
	From string
	// Max is the largest value the source column holds (INT UNSIGNED
	// columns stop at 2^32-1); LOAD DATA clips larger values to it.
	Max uint64
}

// Source is a log table rollups are built from.
type Source struct {
	Letter byte
	// DimColumns maps each dimension the table has to its source column.
	DimColumns map[byte]string
	Measures   []Measure
}

// Dims returns the dimension letters the source has, in DimOrder.
func (s *Source) Dims() string {
	var b []byte
	for i := 0; i < len(DimOrder); i++ {
		if _, ok := s.DimColumns[DimOrder[i]]; ok {
			b = append(b, DimOrder[i])
		}
	}
	return string(b)
}

const (
	maxU64 = ^uint64(0)
	maxU32 = uint64(1<<32 - 1)
)

// maxMeasures bounds the measures of a source (A has five).
const maxMeasures = 5

var sources = []*Source{
	{Letter: 'A',
		DimColumns: map[byte]string{'G': "grp", 'U': "user", 'I': "src_ip", 'T': "app_type", 'A': "app"},
		Measures: []Measure{
			{"bytes_up", "bytes_up", maxU64}, {"bytes_down", "bytes_down", maxU64},
			{"pkts_up", "pkts_up", maxU64}, {"pkts_down", "pkts_down", maxU64},
			{"sessions", "", 0},
		}},
	{Letter: 'F',
		DimColumns: map[byte]string{'G': "grp", 'U': "user", 'I': "ip", 'T': "app_type", 'A': "app"},
		Measures: []Measure{
			{"bytes_up", "bytes_up", maxU64}, {"bytes_down", "bytes_down", maxU64},
			{"packets", "packets", maxU64}, {"sessions", "sessions", maxU32},
		}},
	{Letter: 'T',
		DimColumns: map[byte]string{'G': "grp", 'U': "user", 'I': "ip"},
		Measures: []Measure{
			{"online_seconds", "online_seconds", maxU32}, {"active_minutes", "active_minutes", maxU32},
		}},
	// A U row stands for repeat_count requests (log reduction folds
	// repeats into the row it keeps): requests sums it.
	{Letter: 'U',
		DimColumns: map[byte]string{'G': "grp", 'U': "user", 'I': "src_ip", 'T': "app_type", 'A': "app"},
		Measures: []Measure{
			{"requests", "repeat_count", maxU32}, {"req_body_bytes", "req_body_bytes", maxU64}, {"resp_body_bytes", "resp_body_bytes", maxU64},
		}},
}

// SourceByLetter returns the source table with that letter (A, F, T or U).
func SourceByLetter(l byte) (*Source, bool) {
	for _, s := range sources {
		if s.Letter == l {
			return s, true
		}
	}
	return nil, false
}

// Sources returns the source tables: A, F, T, U.
func Sources() []*Source { return sources }

// Period is the length of a rollup's buckets.
type Period struct {
	Name    string // 30M, 1H or 4H: the period in table names
	Minutes int
}

// Periods from the longest, the order the query planner tries them in.
var periods = []Period{{"4H", 240}, {"1H", 60}, {"30M", 30}}

// Periods returns the periods, longest first.
func Periods() []Period { return periods }

// BlockMinutes is the longest period: a block of one gateway and table is
// recomputed as a whole, and every shorter bucket lies inside one block.
const BlockMinutes = 240

// Rollup is one entry of the catalogue: a source table grouped by some of
// its dimensions. It has one table per period and day.
type Rollup struct {
	Source *Source
	Dims   string // dimension letters, in DimOrder
	Doc    string // the reports it serves
}

// Key returns the table letter and dims, e.g. "FGA".
func (r *Rollup) Key() string { return string(r.Source.Letter) + r.Dims }

// Table returns the rollup table name for a period and day (YYYYMMDD),
// e.g. MidFGA1H20261121.
func (r *Rollup) Table(p Period, day string) string {
	return "Mid" + r.Key() + p.Name + day
}

// Columns are the rollup table's columns in order: gw, bucket, the
// dimensions, the measures.
func (r *Rollup) Columns() []string {
	cols := []string{"gw", "bucket"}
	for i := 0; i < len(r.Dims); i++ {
		d, _ := DimByLetter(r.Dims[i])
		cols = append(cols, d.Column)
	}
	for _, m := range r.Source.Measures {
		cols = append(cols, m.Column)
	}
	return cols
}

// CreateSQL returns the CREATE TABLE IF NOT EXISTS statement of a rollup
// table. A row's identity is (gw, bucket, dimensions), unique because each
// block's rows are one grouping and replace the block's old rows whole;
// it is not a PRIMARY or UNIQUE key because dimension values may be NULL
// (one group, as in GROUP BY; a primary key forbids NULL and a unique key
// does not compare it), and because a key over up to 200 bytes of
// VARBINARY made loading three times slower. The index is what readers
// and the replacement select by: the bucket range, then the gateway.
func (r *Rollup) CreateSQL(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS `%s` (\n", name)
	b.WriteString("  `gw` CHAR(8) CHARACTER SET ascii NOT NULL,\n")
	b.WriteString("  `bucket` DATETIME NOT NULL,\n")
	for i := 0; i < len(r.Dims); i++ {
		d, _ := DimByLetter(r.Dims[i])
		fmt.Fprintf(&b, "  `%s` %s,\n", d.Column, d.Type)
	}
	for _, m := range r.Source.Measures {
		fmt.Fprintf(&b, "  `%s` BIGINT UNSIGNED NOT NULL DEFAULT 0,\n", m.Column)
	}
	fmt.Fprintf(&b, "  KEY `bucket` (`bucket`, `gw`)\n) ENGINE=MyISAM DEFAULT CHARSET=utf8mb4")
	return b.String()
}

// The catalogue: which dimension combinations are rolled up for which
// table. CATALOGUE.md explains each; keep the two in step.
var catalogue = func() []*Rollup {
	src := func(l byte) *Source { s, _ := SourceByLetter(l); return s }
	a, f, t, u := src('A'), src('F'), src('T'), src('U')
	return []*Rollup{
		{a, "G", "sessions and session traffic per group"},
		{a, "U", "top users by session traffic and session count"},
		{a, "I", "session traffic per address (users not named by the config)"},
		{a, "T", "traffic per application type"},
		{a, "A", "top applications by session traffic"},
		{a, "GA", "applications used by each group"},
		{a, "UA", "applications used by each user"},

		{f, "G", "top groups by traffic"},
		{f, "U", "top users by traffic"},
		{f, "I", "traffic per address"},
		{f, "T", "traffic per application type"},
		{f, "A", "top applications by traffic"},
		{f, "GU", "users of a group by traffic"},
		{f, "GA", "applications of each group (the seed's MidFGA)"},
		{f, "UA", "per-user application usage"},

		{t, "G", "online time per group"},
		{t, "U", "top users by online time"},
		{t, "I", "online time per address"},
		{t, "GU", "online time of the users of a group"},

		{u, "G", "web requests per group"},
		{u, "U", "top users by web requests and bytes"},
		{u, "I", "web requests per address"},
		{u, "T", "web requests per application type"},
		{u, "A", "top web applications"},
		{u, "GA", "web applications of each group"},
		{u, "UA", "web applications of each user"},
	}
}()

// Catalogue returns every rollup.
func Catalogue() []*Rollup { return catalogue }

// RollupsOf returns the rollups of one source table.
func RollupsOf(letter byte) []*Rollup {
	var rs []*Rollup
	for _, r := range catalogue {
		if r.Source.Letter == letter {
			rs = append(rs, r)
		}
	}
	return rs
}

// Lookup returns the rollup with that key, e.g. "FGA".
func Lookup(key string) (*Rollup, bool) {
	for _, r := range catalogue {
		if r.Key() == key {
			return r, true
		}
	}
	return nil, false
}

// ParseTable splits a rollup table name into its rollup, period and day.
func ParseTable(name string) (*Rollup, Period, string, bool) {
	rest, ok := strings.CutPrefix(name, "Mid")
	if !ok || len(rest) < 8+3 {
		return nil, Period{}, "", false
	}
	day := rest[len(rest)-8:]
	rest = rest[:len(rest)-8]
	for _, p := range periods {
		if k, ok := strings.CutSuffix(rest, p.Name); ok {
			if r, ok := Lookup(k); ok {
				return r, p, day, true
			}
		}
	}
	return nil, Period{}, "", false
}

// BucketSQL is the SQL expression of the bucket of a raw row: its ts
// floored to the period, in local wall-clock time as the files name it.
func BucketSQL(p Period) string {
	return fmt.Sprintf("(TIMESTAMP(DATE(`ts`)) + INTERVAL ((HOUR(`ts`)*60 + MINUTE(`ts`)) DIV %d * %d) MINUTE)", p.Minutes, p.Minutes)
}

// MeasureSQL is the SQL aggregate of a measure over raw rows.
func MeasureSQL(m Measure) string {
	if m.From == "" {
		return "COUNT(*)"
	}
	return "SUM(`" + m.From + "`)"
}

// RawSQL returns the GROUP BY over the raw day table that yields exactly
// the rows of the rollup table for that period and day, in the rollup
// table's column order. It is the reference the tests and the benchmark
// compare with, and what an INSERT ... SELECT would use.
func (r *Rollup) RawSQL(p Period, day string) string {
	return r.SelectFrom(p, string(r.Source.Letter)+day)
}

// SelectFrom is RawSQL over any table with the raw table's columns, such
// as one holding the raw rows already summed per 30 minutes (ts the
// bucket's start): every measure that is a SUM sums again the same way.
func (r *Rollup) SelectFrom(p Period, table string) string {
	sel := []string{"`gw`", BucketSQL(p) + " AS `bucket`"}
	group := []string{"`gw`", "`bucket`"}
	for i := 0; i < len(r.Dims); i++ {
		d, _ := DimByLetter(r.Dims[i])
		col := r.Source.DimColumns[d.Letter]
		sel = append(sel, "`"+col+"` AS `"+d.Column+"`")
		group = append(group, "`"+col+"`")
	}
	for _, m := range r.Source.Measures {
		sel = append(sel, MeasureSQL(m)+" AS `"+m.Column+"`")
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM `" + table + "` GROUP BY " + strings.Join(group, ", ")
}
