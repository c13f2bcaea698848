package rollup

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/shard"
)

// Mismatch is a rollup table whose rows differ from the GROUP BY over its
// raw day table.
type Mismatch struct {
	Table   string
	Missing int    // rows of the GROUP BY not in the rollup table
	Extra   int    // rows of the rollup table not in the GROUP BY
	Example string // one differing row
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s: %d row(s) missing, %d extra; e.g. %s", m.Table, m.Missing, m.Extra, m.Example)
}

// CheckShards is Check on every shard of set: each shard's rollups
// against its own raw tables.
func CheckShards(ctx context.Context, set *shard.Set, day string) ([]Mismatch, error) {
	var ms []Mismatch
	for _, name := range set.Map().Names() {
		db, err := set.DB(ctx, name)
		if err != nil {
			return ms, err
		}
		m, err := Check(ctx, db, day)
		if err != nil {
			return ms, fmt.Errorf("shard %s: %w", name, err)
		}
		ms = append(ms, m...)
	}
	return ms, nil
}

// Check compares every rollup table of a day with the same GROUP BY run
// by the server over the raw day tables, exactly: every byte of every
// dimension, NULLs, and every sum. A raw day table that does not exist
// (high-performance mode keeps none) is skipped. It is for tests and for
// an operator's `midtable -check`.
func Check(ctx context.Context, db *sql.DB, day string) ([]Mismatch, error) {
	tables, err := mariadb.Tables(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []Mismatch
	for _, r := range catalogue {
		raw := string(r.Source.Letter) + day
		if !slices.Contains(tables, raw) {
			continue
		}
		for _, p := range periods {
			name := r.Table(p, day)
			want, err := dump(ctx, db, r.RawSQL(p, day))
			if err != nil {
				return out, fmt.Errorf("group by %s: %w", raw, err)
			}
			var got []string
			if slices.Contains(tables, name) {
				if got, err = dump(ctx, db, "SELECT `"+strings.Join(r.Columns(), "`, `")+"` FROM "+mariadb.Quote(name)); err != nil {
					return out, fmt.Errorf("read %s: %w", name, err)
				}
			}
			if m, ok := diff(name, want, got); !ok {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// dump returns the rows of a query, each as one string that keeps NULL
// apart from every byte string, sorted.
func dump(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []string
	var b strings.Builder
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		b.Reset()
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(' ')
			}
			if v == nil {
				b.WriteString("NULL")
			} else {
				b.WriteString(strconv.Quote(string(v)))
			}
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out, rows.Err()
}

// diff compares two sorted row lists.
func diff(table string, want, got []string) (Mismatch, bool) {
	m := Mismatch{Table: table}
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j == len(got) || i < len(want) && want[i] < got[j]:
			m.Missing++
			if m.Example == "" {
				m.Example = "missing " + want[i]
			}
			i++
		case i == len(want) || got[j] < want[i]:
			m.Extra++
			if m.Example == "" {
				m.Example = "extra " + got[j]
			}
			j++
		default:
			i++
			j++
		}
	}
	return m, m.Missing == 0 && m.Extra == 0
}
