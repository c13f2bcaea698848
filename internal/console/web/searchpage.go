package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/acstore/acstore/internal/console/search"
	"github.com/acstore/acstore/internal/schema"
)

type option struct {
	Letter, Label, Name string
	On                  bool
}

type line struct {
	Link  string
	Mail  bool
	Cells []string
}

// shownColumns are the columns of the result list: the common ones, then
// the table's first own columns (the catalogue's order).
func shownColumns(t *schema.Table) []string {
	out := []string{"ts", "gw"}
	skip := map[string]bool{"id": true, "gw": true, "ts": true, "src_port": true, "dst_port": true}
	for _, c := range t.Columns {
		if skip[c.Name] || !c.Stored() || len(out) >= 10 {
			continue
		}
		out = append(out, c.Name)
	}
	return out
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// parseFilter reads a search form.
func parseFilter(r *http.Request, c *ctx, l logs) (search.Filter, map[string]string, error) {
	q := r.URL.Query()
	var f search.Filter
	t := q.Get("t")
	if t == "" {
		t = "U"
	}
	from, to, form, err := timeRange(r.Context(), l.db, q)
	for _, k := range []string{"gw", "user", "group", "ip", "app", "field", "q"} {
		form[k] = q.Get(k)
	}
	form["t"] = t
	if err != nil {
		return f, form, err
	}
	if len(t) != 1 {
		return f, form, fmt.Errorf("table %q: want one letter of %s", t, search.Tables)
	}
	f = search.Filter{Table: t[0], From: from, To: to, Gateway: q.Get("gw"), User: q.Get("user"), Group: q.Get("group"),
		App: q.Get("app"), Field: q.Get("field"), Contains: q.Get("q"), Page: 1, PageSize: 50}
	if f.Contains == "" {
		f.Field = ""
	}
	if v := q.Get("ip"); v != "" {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, err2 := netip.ParseAddr(v)
			if err2 != nil {
				return f, form, fmt.Errorf("ip %q: want an address or a CIDR", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		f.IP = p
	}
	if v := q.Get("page"); v != "" {
		if f.Page, err = strconv.Atoi(v); err != nil || f.Page < 1 {
			return f, form, fmt.Errorf("page %q: want a number from 1", v)
		}
	}
	f.ScopeGateways, f.ScopeGroups = c.user.Scope()
	f.FromSQL = l.from()
	return f, form, nil
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, c *ctx) int {
	l, err := s.logs(r.Context())
	if err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	f, form, err := parseFilter(r, c, l)
	data := map[string]any{"Form": form, "Scope": scopeText(c.user)}
	t := formOptions(data, c, form)
	status := http.StatusOK
	if err == nil {
		err = checkScope(c.user, f.Gateway, f.Group)
		if err != nil {
			status = http.StatusForbidden
		}
	}
	if err != nil {
		if status == http.StatusOK {
			status = http.StatusBadRequest
		}
		data["Error"] = err.Error()
		return s.render(w, c, status, "search", langs[c.lang]["search"], data)
	}
	start := time.Now()
	res, err := search.Run(r.Context(), l.db, f)
	if err != nil {
		var status = http.StatusBadRequest
		if errors.Is(err, r.Context().Err()) {
			status = http.StatusServiceUnavailable
		}
		data["Error"] = err.Error()
		return s.render(w, c, status, "search", langs[c.lang]["search"], data)
	}
	data["Result"] = res
	data["Missing"] = l.missing()
	data["Elapsed"] = time.Since(start).Round(time.Millisecond).String()
	shown := shownColumns(t)
	data["Shown"] = shown
	data["Lines"] = resultLines(res, f, shown)
	data["Page"] = f.Page
	pageLinks(data, r, f, res)
	return s.render(w, c, http.StatusOK, "search", langs[c.lang]["search"], data)
}

// formOptions puts the form's table and field choices into data and
// returns the table searched (U when the form names none it may).
func formOptions(data map[string]any, c *ctx, form map[string]string) *schema.Table {
	t, ok := schema.ByLetter(form["t"][0])
	if !ok || !strings.Contains(search.Tables, form["t"][:1]) {
		t, _ = schema.ByLetter('U')
	}
	var tables []option
	for i := 0; i < len(search.Tables); i++ {
		l := search.Tables[i : i+1]
		tables = append(tables, option{Letter: l, Label: langs[c.lang]["tbl_"+l], On: l == form["t"]})
	}
	var fields []option
	for _, name := range search.TextFields(t) {
		fields = append(fields, option{Name: name, On: name == form["field"]})
	}
	data["Tables"], data["Fields"] = tables, fields
	return t
}

// resultLines are the result's rows as the page shows them: the shown
// columns, clipped, and a link to each row (or mail).
func resultLines(res *search.Result, f search.Filter, shown []string) []line {
	idx := map[string]int{}
	for i, col := range res.Columns {
		idx[col] = i
	}
	var lines []line
	for _, row := range res.Rows {
		l := line{Link: fmt.Sprintf("/row/%s/%s/%d", row.Day, url.PathEscape(row.Gateway), row.ID), Mail: f.Table == 'M'}
		if l.Mail {
			l.Link = strings.Replace(l.Link, "/row/", "/mail/", 1)
		}
		for _, col := range shown {
			i := idx[col]
			v := row.Values[i]
			if row.Null[i] {
				v = ""
			}
			l.Cells = append(l.Cells, clip(v, 80))
		}
		lines = append(lines, l)
	}
	return lines
}

// pageLinks puts the page count (or the URL that counts) and the links to
// the previous and next pages into data.
func pageLinks(data map[string]any, r *http.Request, f search.Filter, res *search.Result) {
	more := len(res.Rows) == f.PageSize
	if res.Total >= 0 {
		pages := int((res.Total + int64(f.PageSize) - 1) / int64(f.PageSize))
		data["Pages"] = pages
		more = f.Page < pages
	} else {
		// The first page comes without waiting for the count, which the
		// page asks /search/count for.
		data["CountURL"] = "/search/count?" + r.URL.RawQuery
	}
	q := r.URL.Query()
	if f.Page > 1 {
		q.Set("page", strconv.Itoa(f.Page-1))
		data["PrevURL"] = "/search?" + q.Encode()
	}
	if more {
		q.Set("page", strconv.Itoa(f.Page+1))
		data["NextURL"] = "/search?" + q.Encode()
	}
}

// searchCount answers the total of a search as JSON: {"total": N}.
func (s *Server) searchCount(w http.ResponseWriter, r *http.Request, c *ctx) int {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	answer := func(status int, v any) int {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
		return status
	}
	l, err := s.logs(r.Context())
	if err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	f, _, err := parseFilter(r, c, l)
	status := http.StatusBadRequest
	if err == nil {
		if err = checkScope(c.user, f.Gateway, f.Group); err != nil {
			status = http.StatusForbidden
		}
	}
	if err != nil {
		return answer(status, map[string]string{"error": err.Error()})
	}
	total, tables, err := search.Count(r.Context(), l.db, f)
	if err != nil {
		return answer(http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	v := map[string]any{"total": total, "tables": tables}
	if m := l.missing(); len(m) > 0 {
		v["missing"] = m // the total lacks these shards' rows
	}
	return answer(http.StatusOK, v)
}
