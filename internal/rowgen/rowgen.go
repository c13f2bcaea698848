// Package rowgen makes rows for any log table, deterministically from a
// seed, through the real Spool: for tests (with every awkward byte a text
// field can hold: tabs, newlines, backslashes, NUL, invalid UTF-8, the
// text "\N") and for benchmarks.
package rowgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// Nasty are text values that break naive escaping.
var Nasty = []string{
	"tab\there", "new\nline", `back\slash`, `\N`, "nul\x00byte", "cr\rlf\r\n",
	"\xff\xfe not utf-8 \xc3", "", "  spaces  ", `trailing\`, "名字 UTF-8", "'quote\"",
}

// Gen writes generated rows.
type Gen struct {
	rng   *rand.Rand
	nasty bool
}

// New returns a generator; with nasty, text fields are drawn from Nasty.
func New(seed uint64, nasty bool) *Gen {
	return &Gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), nasty: nasty}
}

// WriteGateway writes, for gateway gw on the data root, n rows of each
// table of letters into sync_files, the i-th at ts + i ms.
func (g *Gen) WriteGateway(root, gw, letters string, n int, ts time.Time) error {
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, MaxLoadBacklog: 1 << 30})
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		for _, l := range []byte(letters) {
			t, ok := schema.ByLetter(l)
			if !ok {
				sp.Close()
				return fmt.Errorf("rowgen: no table %q", l)
			}
			if err := g.Row(sp, t, ts.Add(time.Duration(i)*time.Millisecond)); err != nil {
				sp.Close()
				return err
			}
		}
	}
	return sp.Close()
}

// Row begins a row of table t at ts on sp, fills every field and commits.
func (g *Gen) Row(sp logfile.RowWriter, t *schema.Table, ts time.Time) error {
	e := sp.Begin(t.Letter, ts)
	for _, c := range t.Columns[3:] { // after id, gw, ts
		if c.Stored() {
			g.field(e, c, ts)
		}
	}
	return sp.Commit()
}

func (g *Gen) field(e *logfile.Encoder, c schema.Column, ts time.Time) {
	typ := c.Type
	nullable := strings.HasSuffix(typ, " NULL") && !strings.HasSuffix(typ, "NOT NULL")
	if nullable && g.rng.IntN(8) == 0 {
		e.Null()
		return
	}
	switch {
	case strings.HasPrefix(typ, "BIGINT"):
		e.Uint(g.rng.Uint64N(1 << 40))
	case strings.HasPrefix(typ, "INT"):
		e.Uint(g.rng.Uint64N(1 << 31))
	case strings.HasPrefix(typ, "SMALLINT"):
		e.Uint(g.rng.Uint64N(1 << 16))
	case strings.HasPrefix(typ, "TINYINT UNSIGNED"):
		e.Uint(g.rng.Uint64N(256))
	case strings.HasPrefix(typ, "TINYINT"), strings.HasPrefix(typ, "BOOL"):
		e.Uint(g.rng.Uint64N(2))
	case strings.HasPrefix(typ, "DATETIME(6)"):
		e.Time(ts.Add(time.Duration(g.rng.IntN(300_000)) * time.Millisecond))
	case strings.HasPrefix(typ, "DATETIME"):
		e.Str(ts.Add(-time.Duration(g.rng.IntN(1e6)) * time.Second).Format(time.DateTime))
	case strings.HasPrefix(typ, "DATE"):
		e.Str(ts.AddDate(0, 0, g.rng.IntN(3)).Format(time.DateOnly))
	case strings.HasPrefix(typ, "CHAR(64)"):
		e.Str(fmt.Sprintf("%064x", g.rng.Uint64()))
	case strings.HasPrefix(typ, "VARCHAR(45)"):
		e.Addr(netip.AddrFrom4([4]byte{10, byte(g.rng.IntN(4)), byte(g.rng.IntN(256)), byte(1 + g.rng.IntN(254))}))
	case strings.HasPrefix(typ, "VARCHAR"):
		e.Str(fmt.Sprintf("v%d", g.rng.IntN(1000)))
	default: // VARBINARY, BLOB: free text
		if g.nasty {
			e.Str(Nasty[g.rng.IntN(len(Nasty))] + fmt.Sprint(g.rng.IntN(100)))
		} else {
			e.Str(fmt.Sprintf("text-%d.example.com/path?q=%d", g.rng.IntN(5000), g.rng.IntN(1e6)))
		}
	}
}
