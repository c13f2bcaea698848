package schema

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Layout is an earlier version of a log table's columns. Rows an older
// aclog wrote with it may still be in sync_files (and arrive at head office
// from a branch not yet upgraded), and day tables an older loader created
// with it may still exist. Both are upgraded to the current columns rather
// than read with the wrong meanings: rows as they are read (UpgradeRow,
// logfile.Upgrade), day tables when loader first touches them
// (UpgradeSelect, mariadb.EnsureTable).
//
// A layout is told by its number of fields in a file, so a new layout must
// change it; appending columns keeps the old fields where they were.
type Layout struct {
	Version int
	// Columns are the layout's file columns: id, ts, ... (all but gw).
	Columns []string
	// Convert gives, for a row of this layout, the file text of a current
	// column whose value is not simply the old field of the same name;
	// old returns an old field as written in the file (escaped, `\N` for
	// NULL). A current column neither converted nor in the layout gets
	// its Default.
	Convert map[string]func(old func(col string) []byte) []byte
	// SQL is the same conversion over a day table of this layout: a
	// select expression per converted column.
	SQL map[string]string
}

var null = []byte(`\N`)

// withoutLast returns the file columns of t but the last n: the layout
// before n columns were appended.
func withoutLast(t *Table, n int) []string {
	cols := t.FileColumns()
	return cols[:len(cols)-n]
}

// The layouts before issue 15 (keep meanings of the seeds): U and Q gained
// repeat_count and last_ts (and U app_type) at their end; M gained
// insert_time, msg_size, attachments and parse_status, and len, file_path
// and parse_sign took the meanings of the mail tables M replaces.
func init() {
	u, _ := ByLetter('U')
	u.Past = []Layout{{Version: 1, Columns: withoutLast(u, 3)}}
	q, _ := ByLetter('Q')
	q.Past = []Layout{{Version: 1, Columns: withoutLast(q, 2)}}
	m, _ := ByLetter('M')
	m.Past = []Layout{{Version: 1, Columns: withoutLast(m, 4), Convert: mailV1, SQL: mailV1SQL}}
}

// M layout 1 stored the message size in len, the attachment list in
// file_path, and parse_sign 0 parsed, 1 partly (cut, header only, or a
// STARTTLS note), 2 malformed. Its rows do not say which capture or which
// packet they came from: those columns become NULL.
var mailV1 = map[string]func(old func(string) []byte) []byte{
	"len":         func(func(string) []byte) []byte { return null },
	"file_path":   func(func(string) []byte) []byte { return null },
	"msg_size":    func(old func(string) []byte) []byte { return old("len") },
	"attachments": func(old func(string) []byte) []byte { return old("file_path") },
	"parse_sign": func(old func(string) []byte) []byte {
		if string(old("parse_sign")) == "2" || string(old("command")) == "STARTTLS" {
			return []byte("0")
		}
		return []byte("1")
	},
	"parse_status": func(old func(string) []byte) []byte {
		switch {
		case string(old("command")) == "STARTTLS":
			return []byte("encrypted")
		case string(old("parse_sign")) == "2":
			return []byte("malformed")
		case string(old("parse_sign")) == "1":
			return []byte("partial")
		}
		return []byte("ok")
	},
}

var mailV1SQL = map[string]string{
	"len":          "NULL",
	"file_path":    "NULL",
	"msg_size":     "`len`",
	"attachments":  "`file_path`",
	"parse_sign":   "IF(`parse_sign` = 2 OR `command` = 'STARTTLS', 0, 1)",
	"parse_status": "CASE WHEN `command` = 'STARTTLS' THEN 'encrypted' WHEN `parse_sign` = 2 THEN 'malformed' WHEN `parse_sign` = 1 THEN 'partial' ELSE 'ok' END",
}

// NeedsUpgrade reports whether rows of t may have to be upgraded as they
// are read.
func (t *Table) NeedsUpgrade() bool { return len(t.Past) > 0 }

// pastByFields returns the layout whose rows have n fields.
func (t *Table) pastByFields(n int) *Layout {
	for i := range t.Past {
		if len(t.Past[i].Columns) == n {
			return &t.Past[i]
		}
	}
	return nil
}

// UpgradeRow appends to dst the row (one line of a file, without its
// newline) in the current layout: a row of an earlier layout is converted,
// a current row is copied. A row whose field count matches no layout is
// an error (a damaged row: LOAD DATA would misplace its fields).
func (t *Table) UpgradeRow(dst, row []byte) ([]byte, error) {
	n := bytes.Count(row, []byte{'\t'}) + 1
	if n == t.FieldCount() {
		return append(dst, row...), nil
	}
	l := t.pastByFields(n)
	if l == nil {
		return dst, fmt.Errorf("table %c: a row of %d fields matches no layout (current %d)", t.Letter, n, t.FieldCount())
	}
	fields := bytes.Split(row, []byte{'\t'})
	old := func(col string) []byte {
		if i := slices.Index(l.Columns, col); i >= 0 {
			return fields[i]
		}
		return null
	}
	first := true
	for _, c := range t.Columns {
		if c.Name == GatewayColumn || !c.Stored() {
			continue
		}
		if !first {
			dst = append(dst, '\t')
		}
		first = false
		switch conv, ok := l.Convert[c.Name]; {
		case ok:
			dst = append(dst, conv(old)...)
		case slices.Contains(l.Columns, c.Name):
			dst = append(dst, old(c.Name)...)
		case c.Default != "":
			dst = append(dst, c.Default...)
		default:
			dst = append(dst, null...)
		}
	}
	return dst, nil
}

// AllColumns returns the names of every column of the table as a day
// table has them, gw and aliases included.
func (t *Table) AllColumns() []string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = c.Name
	}
	return cols
}

// UpgradeSelect tells how to upgrade a day table that has the columns
// have: current reports that it already has the current ones; otherwise
// the rows of the old table are the current table's columns insert, in
// that order, selected by the expressions sel. A set of columns that is
// no layout of t is an error.
func (t *Table) UpgradeSelect(have []string) (insert, sel []string, current bool, err error) {
	if sameSet(have, t.AllColumns()) {
		return nil, nil, true, nil
	}
	var l *Layout
	for i := range t.Past {
		if sameSet(have, append([]string{GatewayColumn}, t.Past[i].Columns...)) {
			l = &t.Past[i]
		}
	}
	if l == nil {
		return nil, nil, false, fmt.Errorf("table %c: columns %s are no layout of it", t.Letter, strings.Join(have, ", "))
	}
	for _, c := range t.Columns {
		if !c.Stored() {
			continue
		}
		expr, ok := l.SQL[c.Name]
		switch {
		case ok:
		case c.Name == GatewayColumn || slices.Contains(l.Columns, c.Name):
			expr = "`" + c.Name + "`"
		case c.Default != "":
			expr = c.Default
		default:
			expr = "NULL"
		}
		insert = append(insert, c.Name)
		sel = append(sel, expr)
	}
	return insert, sel, false, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
