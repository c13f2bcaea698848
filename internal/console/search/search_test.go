package search_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/console/search"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

// TestPagesAcrossDays pages through a search spanning three days (one
// without a table) and checks every row comes once, newest first, with
// the total SQL counts, for filters of each kind.
func TestPagesAcrossDays(t *testing.T) {
	db, _ := testdb.New(t)
	ctx := context.Background()
	q, _ := schema.ByLetter('Q')
	d0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.Local)
	for _, day := range []time.Time{d0, d0.AddDate(0, 0, 2)} {
		name := schema.DayTable('Q', day)
		if err := mariadb.CreateTable(ctx, db, q, name); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 40; i++ {
			gw := "AAAA0001"
			if i%4 == 0 {
				gw = "AAAA0002"
			}
			ts := day.Add(time.Duration(i) * 35 * time.Minute)
			_, err := db.Exec("INSERT INTO "+name+" (id, gw, ts, src_ip, dst_ip, user, grp, proto, query) VALUES (?, ?, ?, ?, '10.9.9.9', ?, ?, 'udp', ?)",
				i, gw, ts, fmt.Sprintf("192.168.%d.%d", i%3, i), fmt.Sprintf("u%d", i%5), fmt.Sprintf("g%d", i%2), fmt.Sprintf("host%d.example_%d.com", i, i%7))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	union := "(SELECT gw, id, ts, user, grp, src_ip, query FROM Q20260301 UNION ALL SELECT gw, id, ts, user, grp, src_ip, query FROM Q20260303) u"
	from, to := d0.Add(5*time.Hour), d0.AddDate(0, 0, 2).Add(20*time.Hour)
	for _, c := range []struct {
		name  string
		f     search.Filter
		where string
	}{
		{"all", search.Filter{}, "1=1"},
		{"gateway", search.Filter{Gateway: "AAAA0002"}, "gw = 'AAAA0002'"},
		{"user", search.Filter{User: "u3"}, "user = 'u3'"},
		{"cidr", search.Filter{IP: netip.MustParsePrefix("192.168.1.0/24")}, "src_ip LIKE '192.168.1.%'"},
		{"contains with wildcard bytes", search.Filter{Field: "query", Contains: "example_3"}, "query LIKE '%example\\_3%'"},
		{"scope", search.Filter{ScopeGateways: []string{"AAAA0001"}, ScopeGroups: []string{"g1"}}, "gw = 'AAAA0001' AND grp = 'g1'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want []string
			rows, err := db.Query("SELECT CONCAT(gw, '/', id) FROM "+union+" WHERE ts >= ? AND ts < ? AND "+c.where+" ORDER BY ts DESC", from, to)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var k string
				rows.Scan(&k)
				want = append(want, k)
			}
			rows.Close()
			var got []string
			for page := 1; ; page++ {
				f := c.f
				f.Table, f.From, f.To, f.Page, f.PageSize = 'Q', from, to, page, 7
				res, err := search.Run(ctx, db, f)
				if err != nil {
					t.Fatal(err)
				}
				if page > 1 && res.Total != int64(len(want)) {
					t.Fatalf("page %d: total %d, SQL counts %d", page, res.Total, len(want))
				}
				for _, r := range res.Rows {
					got = append(got, fmt.Sprintf("%s/%d", r.Gateway, r.ID))
				}
				if len(res.Rows) < 7 {
					break
				}
			}
			total, _, err := search.Count(ctx, db, search.Filter{Table: 'Q', From: from, To: to, Gateway: c.f.Gateway, User: c.f.User, IP: c.f.IP,
				Field: c.f.Field, Contains: c.f.Contains, ScopeGateways: c.f.ScopeGateways, ScopeGroups: c.f.ScopeGroups})
			if err != nil || total != int64(len(want)) {
				t.Errorf("Count: %d, %v; SQL counts %d", total, err, len(want))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("pages give\n%v\nwant\n%v", got, want)
			}
		})
	}
}
