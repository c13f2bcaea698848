package rebuild

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
)

// Sum is the content of one gateway's rows of a day table: how many rows,
// and the sum (mod 2^64) of a hash of each row. A sum does not depend on
// the order of the rows, so the server computes it in one scan of the
// table and the reader in one pass over the sync_files, and any altered,
// missing, stray or relabelled row changes it.
//
// A row's hash is the first 8 bytes (big-endian) of the MD5 of its
// canonical text: for the gateway and then every file column in schema
// order, "len:value" of the value as the server prints it, or "N" for
// NULL. The lengths make the text unambiguous whatever bytes the values
// hold. Columns come from the schema catalogue, so the sum follows any
// change of a table's columns.
type Sum struct {
	Rows int64
	Hash uint64
}

// colKind says how a column's file text is brought to the server's text.
type colKind int

const (
	kindText colKind = iota
	kindInt
	kindDatetime  // DATETIME: seconds
	kindDatetime6 // DATETIME(6): microseconds
)

func kindOf(c schema.Column) colKind {
	ty := strings.ToUpper(c.Type)
	switch {
	case strings.HasPrefix(ty, "DATETIME(6)"):
		return kindDatetime6
	case strings.HasPrefix(ty, "DATETIME"):
		return kindDatetime
	case strings.HasPrefix(ty, "BIGINT"), strings.HasPrefix(ty, "INT"), strings.HasPrefix(ty, "SMALLINT"),
		strings.HasPrefix(ty, "TINYINT"), strings.HasPrefix(ty, "BOOL"), strings.HasPrefix(ty, "MEDIUMINT"):
		return kindInt
	}
	return kindText
}

// fileColumns returns the table's file columns with their kinds.
func fileColumns(t *schema.Table) ([]string, []colKind) {
	var names []string
	var kinds []colKind
	for _, c := range t.Columns {
		if c.Name == schema.GatewayColumn || !c.Stored() {
			continue // aliases are not in the files
		}
		names = append(names, c.Name)
		kinds = append(kinds, kindOf(c))
	}
	return names, kinds
}

// sumSQL is the query that sums table per gateway on the server.
func sumSQL(t *schema.Table, table string) string {
	names, _ := fileColumns(t)
	parts := []string{"CONCAT(LENGTH(gw), ':', gw)"}
	for _, n := range names {
		q := "`" + n + "`"
		parts = append(parts, "IFNULL(CONCAT(LENGTH("+q+"), ':', "+q+"), 'N')")
	}
	row := "CAST(CONV(LEFT(MD5(CONCAT(" + strings.Join(parts, ", ") + ")), 16), 16, 10) AS UNSIGNED)"
	return "SELECT gw, COUNT(*), CAST(SUM(" + row + ") MOD 18446744073709551616 AS CHAR) FROM " +
		mariadb.Quote(table) + " GROUP BY gw"
}

// TableSums sums every gateway's rows of a day table on the server, in one
// scan.
func TableSums(ctx context.Context, db mariadb.Execer, t *schema.Table, table string) (map[string]Sum, error) {
	rows, err := db.QueryContext(ctx, sumSQL(t, table))
	if err != nil {
		return nil, fmt.Errorf("sum rows of %s: %w", table, err)
	}
	defer rows.Close()
	out := make(map[string]Sum)
	for rows.Next() {
		var gw, h string
		var s Sum
		if err := rows.Scan(&gw, &s.Rows, &h); err != nil {
			return nil, fmt.Errorf("sum rows of %s: %w", table, err)
		}
		if s.Hash, err = strconv.ParseUint(h, 10, 64); err != nil {
			return nil, fmt.Errorf("sum rows of %s: %q: %w", table, h, err)
		}
		out[gw] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sum rows of %s: %w", table, err)
	}
	return out, nil
}

// FileSum sums the good rows of one gateway's sync_files of table t. A
// file that cannot be read at all adds nothing (the sums then differ); a
// torn file adds its rows up to the tear, as loading it would.
func FileSum(t *schema.Table, gw string, paths []string) Sum {
	h := newRowHasher(t, gw)
	var s Sum
	for _, p := range paths {
		rs, err := logfile.OpenRows(p, logfile.LZ4)
		if err != nil {
			continue
		}
		rows := logfile.NewRows(rs)
		for rows.Next() {
			row := rows.Row()
			if t.NeedsUpgrade() {
				// A row of an earlier layout is stored converted
				// (schema.Layout); a row of none is hashed as it is.
				if up, err := t.UpgradeRow(h.up[:0], row); err == nil {
					h.up, row = up, up
				}
			}
			s.Rows++
			s.Hash += h.hash(row)
		}
		rs.Close()
	}
	return s
}

// rowHasher hashes rows of one table and gateway, reusing its buffers.
type rowHasher struct {
	kinds  []colKind
	prefix []byte // "len:gw"
	buf    []byte
	val    []byte
	up     []byte // a row of an earlier layout, upgraded
}

func newRowHasher(t *schema.Table, gw string) *rowHasher {
	_, kinds := fileColumns(t)
	return &rowHasher{kinds: kinds, prefix: fmt.Appendf(nil, "%d:%s", len(gw), gw)}
}

// hash returns the row's hash: what the server computes for the row once
// LOAD DATA has stored it.
func (h *rowHasher) hash(row []byte) uint64 {
	h.buf = append(h.buf[:0], h.prefix...)
	for _, k := range h.kinds {
		raw := row
		if j := bytes.IndexByte(row, '\t'); j >= 0 {
			raw, row = row[:j], row[j+1:]
		} else {
			row = nil
		}
		if string(raw) == `\N` {
			h.buf = append(h.buf, 'N')
			continue
		}
		h.val = canonical(h.val[:0], raw, k)
		h.buf = strconv.AppendInt(h.buf, int64(len(h.val)), 10)
		h.buf = append(h.buf, ':')
		h.buf = append(h.buf, h.val...)
	}
	sum := md5.Sum(h.buf)
	return binary.BigEndian.Uint64(sum[:8])
}

// canonical appends the server's text of a field read from a file.
func canonical(dst, raw []byte, k colKind) []byte {
	switch k {
	case kindInt:
		if v, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return strconv.AppendInt(dst, v, 10)
		}
		if v, err := strconv.ParseUint(string(raw), 10, 64); err == nil {
			return strconv.AppendUint(dst, v, 10)
		}
	case kindDatetime6:
		// Files hold TimeLayout; a value without its fraction gets zeros.
		if len(raw) == 19 {
			return append(append(dst, raw...), ".000000"...)
		}
	case kindDatetime:
		// DATETIME keeps whole seconds: the server drops the fraction.
		if len(raw) > 19 {
			return append(dst, raw[:19]...)
		}
	}
	return logfile.AppendUnescaped(dst, raw)
}
