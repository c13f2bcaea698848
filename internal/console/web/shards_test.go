package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/spider"
	"github.com/acstore/acstore/internal/testdb"
)

// shardedFixture fills three shards through the real loader and midtable
// (each gateway's rows and rollups on its shard), gives the Spider front
// its tables, and starts a console reading through the front.
func shardedFixture(t *testing.T, day time.Time, gws []string) (*fixture, *testdb.Shards, *shard.Set) {
	t.Helper()
	ctx := context.Background()
	sh := testdb.NewShards(t, 3, true)
	root := t.TempDir()
	for i, g := range gws {
		if err := rowgen.New(uint64(i+1), false).WriteGateway(root, g, "AUM", 300+70*i, day.Add(13*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	set := shard.Open(sh.Map)
	t.Cleanup(func() { set.Close() })
	front, err := spider.New(set, nil)
	must(t, err)
	t.Cleanup(func() { front.Close() })
	ls, err := loader.New(loader.Config{Root: root, Keep: true, KeepDays: 3650, Shards: set, Front: front}, nil)
	must(t, err)
	t.Cleanup(func() { ls.Close() })
	if _, err := ls.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := rollup.New(rollup.Config{Root: root, StateDir: t.TempDir(), Shards: set}, nil)
	must(t, err)
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	must(t, front.Sync(ctx))
	db, err := set.Default(ctx)
	must(t, err)
	f := &fixture{db: db, root: root, front: front}
	f.start(t, time.Minute)
	return f, sh, set
}

// shardCount is SELECT COUNT(*) of table on shard name, with cond.
func shardCount(t *testing.T, set *shard.Set, name, table, cond string) int64 {
	t.Helper()
	db, err := set.DB(context.Background(), name)
	must(t, err)
	var n int64
	must(t, db.QueryRow("SELECT COUNT(*) FROM `"+table+"`"+cond).Scan(&n))
	return n
}

// TestShardedConsole: the console of a head office past one server reads
// through the Spider front. A search's total is the sum of the shards'
// COUNT(*), a report is the shards' rollups summed, a row and a mail of
// any shard open, the branches page names each gateway's shard. With a
// shard killed, every page still answers, from the others, and says which
// shard is missing; a row of the dead shard is 503, not "no such row".
func TestShardedConsole(t *testing.T) {
	ctx := context.Background()
	day := time.Date(2026, 11, 21, 0, 0, 0, 0, time.Local)
	d := day.Format(schema.DayLayout)
	gws := []string{"10000000", "60000000", "70000000", "B0000000"}
	f, sh, set := shardedFixture(t, day, gws)
	names := sh.Map.Names()
	for _, g := range gws[1:3] {
		if sh.Map.For(g, d) != "s1" {
			t.Fatalf("fixture: %s is on %s, want s1", g, sh.Map.For(g, d))
		}
	}
	span := "from=2026-11-21T00:00:00&to=2026-11-22T00:00:00"
	sum := func(table, cond string, skip string) int64 {
		var n int64
		for _, s := range names {
			if s != skip {
				n += shardCount(t, set, s, table, cond)
			}
		}
		return n
	}
	c := f.client(t, "")
	if st := c.login(t, "admin", f.adminPW); st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}

	// Search totals: the sum of every shard's COUNT(*), whole and filtered.
	for _, q := range []struct{ query, table, cond string }{
		{"t=A", "A" + d, ""},
		{"t=U&gw=60000000", "U" + d, " WHERE gw = '60000000'"},
		{"t=M&from=2026-11-21T13:00:00.100&to=2026-11-21T13:00:00.250", "M" + d,
			" WHERE ts >= '2026-11-21 13:00:00.100' AND ts < '2026-11-21 13:00:00.250'"},
	} {
		want := sum(q.table, q.cond, "")
		path := "/search?" + span + "&" + q.query
		if strings.Contains(q.query, "from=") {
			path = "/search?" + q.query
		}
		if got := c.total(t, path); got != strconv.FormatInt(want, 10) || want == 0 {
			t.Errorf("%s: total %s, shards' COUNT(*) sum %d", q.query, got, want)
		}
	}
	// A later page (counted) walks the days across the shards' rows.
	total := sum("A"+d, "", "")
	st, body := c.get(t, "/search?"+span+"&t=A&page=3")
	if st != http.StatusOK || !strings.Contains(body, fmt.Sprintf("%d", total)) || strings.Count(body, `class="open"`) != 50 {
		t.Errorf("search page 3: status %d, want the total %d and 50 rows", st, total)
	}

	// A report (the day's traffic hour by hour): the shards' rollups summed.
	want := trendOf(t, set, names, day, "")
	got, missing := reportCSV(t, c, "/report/trend?"+span+"&format=csv")
	if d := diffSums(got, want); missing != "" || len(want) == 0 || d != "" {
		t.Errorf("traffic trend through the front (missing %q), against the shards' rollups summed: %s", missing, d)
	}

	// A row and a mail of each shard open through the front.
	for _, g := range []string{gws[0], gws[1], gws[3]} {
		db, err := set.DB(ctx, sh.Map.For(g, d))
		must(t, err)
		for _, p := range []struct{ path, table string }{{"/row/", "A"}, {"/mail/", "M"}} {
			var id uint64
			must(t, db.QueryRow("SELECT id FROM "+p.table+d+" WHERE gw = ? LIMIT 1", g).Scan(&id))
			path := fmt.Sprintf("%s%s%s/%s/%d", p.path, p.table, d, g, id)
			if st, _ := c.get(t, path); st != http.StatusOK {
				t.Errorf("%s: status %d", path, st)
			}
		}
	}
	st, body = c.get(t, "/branches")
	if st != http.StatusOK || !strings.Contains(body, "<td>10000000</td><td>s0</td>") || !strings.Contains(body, "<td>B0000000</td><td>s2</td>") {
		t.Errorf("branches page: status %d, no gateway with its shard:\n%s", st, body)
	}

	// The browser sees the same total.
	bctx := newBrowser(t, 1280, 900)
	var shown string
	step(t, bctx, "log in and search",
		logIn(f.url, f.adminPW),
		chromedp.Navigate(f.url+"/search?"+span+"&t=A"),
		chromedp.WaitVisible("#total[data-done]", chromedp.ByQuery),
		chromedp.Text("#total", &shown, chromedp.ByID),
	)
	if shown != strconv.FormatInt(total, 10) {
		t.Errorf("the browser shows a total of %q, the shards' COUNT(*) sum is %d", shown, total)
	}

	// s1 killed: the pages answer from s0 and s2 and name s1.
	sh.Shards[1].Kill()
	t.Cleanup(func() { sh.Shards[1].Up() })
	begin := time.Now()
	withoutS1 := sum("A"+d, "", "s1")
	if got := c.total(t, "/search?"+span+"&t=A"); got != strconv.FormatInt(withoutS1, 10) {
		t.Errorf("with s1 down the total is %s, want s0's and s2's %d", got, withoutS1)
	}
	if d := time.Since(begin); d > 2*spider.ConnectTimeout*time.Second {
		t.Errorf("with s1 down the count took %v", d)
	}
	_, body = c.get(t, "/search/count?"+span+"&t=A")
	if !strings.Contains(body, `"missing":["s1"]`) {
		t.Errorf("count with s1 down does not name it: %s", body)
	}
	st, body = c.get(t, "/search?"+span+"&t=A")
	if st != http.StatusOK || !strings.Contains(body, `id="missing"`) || !strings.Contains(body, "s1 ") {
		t.Errorf("search page with s1 down: status %d, does not name s1", st)
	}
	want = trendOf(t, set, names, day, "s1")
	got, missing = reportCSV(t, c, "/report/trend?"+span+"&format=csv")
	if d := diffSums(got, want); missing != "s1" || d != "" {
		t.Errorf("traffic with s1 down (missing %q), against s0's and s2's rollups: %s", missing, d)
	}
	var id uint64
	db0, _ := set.DB(ctx, "s0")
	must(t, db0.QueryRow("SELECT id FROM A"+d+" LIMIT 1").Scan(&id))
	if st, body := c.get(t, fmt.Sprintf("/row/A%s/%s/%d", d, gws[1], id)); st != http.StatusServiceUnavailable || !strings.Contains(body, "shard s1") {
		t.Errorf("a row of s1 with s1 down: status %d, want 503 naming s1", st)
	}
	if st, _ := c.get(t, fmt.Sprintf("/row/A%s/%s/%d", d, gws[0], id)); st != http.StatusOK {
		t.Errorf("a row of s0 with s1 down: status %d", st)
	}
	if _, body := c.get(t, "/branches"); !strings.Contains(body, "s1 (down)") {
		t.Error("branches page with s1 down does not say so")
	}
	step(t, bctx, "search with s1 down",
		chromedp.Navigate(f.url+"/search?"+span+"&t=A"),
		chromedp.WaitVisible("#total[data-done]", chromedp.ByQuery),
		chromedp.Text("#total", &shown, chromedp.ByID),
	)
	if shown != fmt.Sprintf("%d (s1 down)", withoutS1) {
		t.Errorf("the browser shows %q with s1 down, want %d (s1 down)", shown, withoutS1)
	}
}

// trendOf sums, hour by hour over day, every shard's (but skip's) answer
// to the A traffic from its own rollups; hours with no traffic are left
// out. Each shard's plan must read rollups, not raw rows.
func trendOf(t *testing.T, set *shard.Set, names []string, day time.Time, skip string) map[string][]uint64 {
	t.Helper()
	sums := map[string][]uint64{}
	for _, name := range names {
		if name == skip {
			continue
		}
		db, err := set.DB(context.Background(), name)
		must(t, err)
		for h := day; h.Before(day.AddDate(0, 0, 1)); h = h.Add(time.Hour) {
			pl, rows, err := rollup.Answer(context.Background(), db, rollup.Query{Table: 'A', From: h, To: h.Add(time.Hour)})
			must(t, err)
			for _, p := range pl.Parts {
				if p.Raw {
					t.Fatalf("shard %s: the plan reads raw %s, want rollups", name, p.Table)
				}
			}
			for _, r := range rows {
				if !slices.ContainsFunc(r.Sums, func(v uint64) bool { return v != 0 }) {
					continue // no traffic that hour
				}
				k := h.Format(time.DateTime)
				if sums[k] == nil {
					sums[k] = make([]uint64, len(r.Sums))
				}
				for i, v := range r.Sums {
					sums[k][i] += v
				}
			}
		}
	}
	return sums
}

// reportCSV downloads a report as CSV: its rows by the first column, and
// the shards the answer says it lacks.
func reportCSV(t *testing.T, c *client, path string) (map[string][]uint64, string) {
	t.Helper()
	resp, err := c.Get(c.base + path)
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d", path, resp.StatusCode)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	must(t, err)
	out := map[string][]uint64{}
	for _, rec := range recs[1:] {
		var vs []uint64
		var any uint64
		for _, v := range rec[1:] {
			n, err := strconv.ParseUint(v, 10, 64)
			must(t, err)
			vs = append(vs, n)
			any |= n
		}
		if any != 0 { // a trend's empty hours
			out[rec[0]] = vs
		}
	}
	return out, resp.Header.Get("X-Acstore-Missing-Shards")
}

// diffSums describes how got differs from want ("" when equal).
func diffSums(got, want map[string][]uint64) string {
	var out []string
	for k, w := range want {
		if g, ok := got[k]; !ok || fmt.Sprint(g) != fmt.Sprint(w) {
			out = append(out, fmt.Sprintf("%q: got %v want %v", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%q: got %v, not wanted", k, g))
		}
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("... %d in all", len(out)))
	}
	if len(out) == 0 {
		return ""
	}
	return fmt.Sprintf("%d rows against %d: %s", len(got), len(want), strings.Join(out, "; "))
}
