// Package search finds rows of the log day tables (A U P M C O I S Q) over
// a time range that may span days: filtered by gateway, user, group, IP
// (CIDR), app and one of the table's text fields, newest first, a page at
// a time, with the total.
//
// Day tables have their (gw, id) primary key and a ts index, nothing more,
// so loading stays cheap. A search therefore works day by day, newest day
// first: COUNT(*) per day gives the total and tells which day the asked
// page starts in, so whole days before it are skipped without reading
// rows; the page itself is read with ORDER BY ts DESC LIMIT, which walks
// the ts index backwards and stops as soon as the page is full. Columns
// and their kinds come from internal/schema's catalogue.
package search

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
)

// Tables are the letters of the tables search offers (F and T are
// per-minute sums, read through the reports).
const Tables = "AUPMCOISQ"

// Filter is one search.
type Filter struct {
	Table    byte
	From, To time.Time // [From, To), local time
	Gateway  string
	User     string
	Group    string
	App      string
	IP       netip.Prefix // matches any address column of the table
	Field    string       // a text column of the table
	Contains string       // bytes the Field must contain
	Page     int          // from 1
	PageSize int
	// Scope limits an auditor: rows of these gateways and groups only
	// (empty: all).
	ScopeGateways []string
	ScopeGroups   []string
	// FromSQL, when set, gives what a statement reads a day table as: a
	// Spider front's partitions of the shards that are up
	// (spider.Reading.From). Unset: the table itself.
	FromSQL func(table string) string
}

// from returns what f reads table as.
func (f *Filter) from(table string) string {
	if f.FromSQL != nil {
		return f.FromSQL(table)
	}
	return mariadb.Quote(table)
}

// MaxDays bounds the days one search may span.
const MaxDays = 366

// Validate checks f against the table catalogue.
func (f *Filter) Validate() error {
	if strings.IndexByte(Tables, f.Table) < 0 || f.Table == 0 {
		return fmt.Errorf("table %q: want one of %s", string(f.Table), Tables)
	}
	t, _ := schema.ByLetter(f.Table)
	if !f.From.Before(f.To) {
		return fmt.Errorf("empty time range [%s, %s)", f.From.Format(time.DateTime), f.To.Format(time.DateTime))
	}
	if f.To.Sub(f.From) > MaxDays*24*time.Hour {
		return fmt.Errorf("time range longer than %d days", MaxDays)
	}
	if f.Gateway != "" && !logfile.ValidGateway(f.Gateway) {
		return fmt.Errorf("gateway %q: want 8 upper-case hex digits", f.Gateway)
	}
	if f.App != "" && !hasColumn(t, "app") {
		return fmt.Errorf("table %c has no app column", f.Table)
	}
	if f.Field != "" && !slices.Contains(TextFields(t), f.Field) {
		return fmt.Errorf("table %c has no text field %q (it has %s)", f.Table, f.Field, strings.Join(TextFields(t), ", "))
	}
	if f.Contains != "" && f.Field == "" {
		return fmt.Errorf("a text to find needs a field")
	}
	if f.PageSize <= 0 || f.PageSize > 500 {
		f.PageSize = 50
	}
	if f.Page <= 0 {
		f.Page = 1
	}
	if f.Page > 1e6 {
		return fmt.Errorf("page %d: too far", f.Page)
	}
	return nil
}

func hasColumn(t *schema.Table, name string) bool {
	return slices.ContainsFunc(t.Columns, func(c schema.Column) bool { return c.Name == name })
}

// TextFields returns the free-text columns of t a search can look into:
// its byte-string columns other than user, group and app, which have
// filters of their own.
func TextFields(t *schema.Table) []string {
	var out []string
	for _, c := range t.Columns {
		switch c.Name {
		case "user", "grp", "app":
			continue
		}
		if strings.HasPrefix(c.Type, "VARBINARY") || strings.HasPrefix(c.Type, "MEDIUMBLOB") {
			out = append(out, c.Name)
		}
	}
	return out
}

// ipColumns returns the address columns of t.
func ipColumns(t *schema.Table) []string {
	var out []string
	for _, c := range t.Columns {
		if c.Stored() && strings.HasPrefix(c.Type, "VARCHAR(45)") { // not the seed's aliases
			out = append(out, c.Name)
		}
	}
	return out
}

// likeEscape escapes LIKE's wildcards so s matches as plain bytes.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// where returns the conditions of f other than time, and their arguments.
func (f *Filter) where(t *schema.Table) ([]string, []any) {
	var w []string
	var args []any
	eq := func(col, v string) {
		w = append(w, "`"+col+"` = ?")
		args = append(args, []byte(v))
	}
	in := func(col string, vs []string) {
		if len(vs) == 0 {
			return
		}
		w = append(w, "`"+col+"` IN (?"+strings.Repeat(", ?", len(vs)-1)+")")
		for _, v := range vs {
			args = append(args, []byte(v))
		}
	}
	if f.Gateway != "" {
		w = append(w, "`gw` = ?")
		args = append(args, f.Gateway)
	}
	in("gw", f.ScopeGateways)
	if f.User != "" {
		eq("user", f.User)
	}
	if f.Group != "" {
		eq("grp", f.Group)
	}
	in("grp", f.ScopeGroups)
	if f.App != "" {
		eq("app", f.App)
	}
	if f.IP.IsValid() {
		var or []string
		lo, hi := prefixRange(f.IP)
		for _, col := range ipColumns(t) {
			if f.IP.Addr().Is4() {
				or = append(or, "INET_ATON(`"+col+"`) BETWEEN ? AND ?")
				args = append(args, be32(lo), be32(hi))
			} else {
				or = append(or, "(LENGTH(INET6_ATON(`"+col+"`)) = 16 AND INET6_ATON(`"+col+"`) BETWEEN ? AND ?)")
				l16, h16 := lo.As16(), hi.As16()
				args = append(args, l16[:], h16[:])
			}
		}
		w = append(w, "("+strings.Join(or, " OR ")+")")
	}
	if f.Contains != "" {
		w = append(w, "`"+f.Field+"` LIKE ?")
		args = append(args, []byte("%"+likeEscape(f.Contains)+"%"))
	}
	return w, args
}

// prefixRange returns the first and last address of p.
func prefixRange(p netip.Prefix) (netip.Addr, netip.Addr) {
	p = p.Masked()
	lo := p.Addr()
	b := lo.AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	hi, _ := netip.AddrFromSlice(b)
	return lo, hi
}

func be32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
