package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/console/report"
	"github.com/acstore/acstore/internal/rollup"
)

func (s *Server) reportHome(w http.ResponseWriter, r *http.Request, c *ctx) int {
	http.Redirect(w, r, "/report/traffic", http.StatusSeeOther)
	return http.StatusSeeOther
}

// chartSpec is what app.js draws.
type chartSpec struct {
	Type       string          `json:"type"`
	Categories []string        `json:"categories"`
	Series     []report.Series `json:"series"`
}

func (s *Server) report(w http.ResponseWriter, r *http.Request, c *ctx) int {
	kind, ok := report.KindByName(r.PathValue("kind"))
	if !ok {
		return s.fail(w, r, c, http.StatusNotFound, fmt.Errorf("no report %q", r.PathValue("kind")))
	}
	l, err := s.logs(r.Context())
	if err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	q := r.URL.Query()
	req, form, err := reportRequest(r, c, l, kind)
	from := req.From // the file name's, as asked
	status := http.StatusOK
	if err != nil {
		status = http.StatusBadRequest
	} else if err = checkScope(c.user, req.Gateway, ""); err != nil {
		status = http.StatusForbidden
	}
	// Keep the time range and gateway when switching reports.
	keep := template.URL(url.Values{"from": {form["from"]}, "to": {form["to"]}, "gw": {form["gw"]}}.Encode())
	var kinds []option
	for _, k := range report.Kinds {
		kinds = append(kinds, option{Name: k.Name, Label: k.Labels[langIndex(c.lang)], On: k.Name == kind.Name})
	}
	data := map[string]any{"Form": form, "Kind": kind.Name, "Kinds": kinds, "Keep": keep, "Scope": scopeText(c.user)}
	var rep *report.Report
	if err == nil {
		rep, err = report.Run(r.Context(), l.db, req)
		if err != nil {
			status = http.StatusBadRequest
		}
	}
	if rep != nil {
		req = rep.Request
	}
	data["Dims"], data["Measures"] = reportOptions(c, kind, req)
	if err != nil {
		data["Error"] = err.Error()
		return s.render(w, c, status, "report", kind.Labels[langIndex(c.lang)], data)
	}
	if q.Get("format") == "csv" {
		return s.reportCSV(w, kind, from, l, rep)
	}
	spec, _ := json.Marshal(chartSpec{Type: kind.Chart, Categories: nonNil(rep.Categories), Series: rep.Series})
	data["Report"] = rep
	data["Missing"] = l.missing()
	data["Chart"] = true
	data["ChartJSON"] = string(spec)
	data["Elapsed"] = rep.Elapsed.Round(100 * time.Microsecond).String()
	cq := r.URL.Query()
	cq.Set("format", "csv")
	data["CSVURL"] = "/report/" + kind.Name + "?" + cq.Encode()
	w.Header().Set("Server-Timing", fmt.Sprintf("report;dur=%.3f", float64(rep.Elapsed.Microseconds())/1000))
	return s.render(w, c, http.StatusOK, "report", kind.Labels[langIndex(c.lang)], data)
}

// reportRequest reads a report's request from the query: time range,
// gateway, dimension, measure and top N, in the user's scope. form is what
// the page's form shows again.
func reportRequest(r *http.Request, c *ctx, l logs, kind report.Kind) (report.Request, map[string]string, error) {
	q := r.URL.Query()
	from, to, form, err := timeRange(r.Context(), l.db, q)
	form["gw"], form["top"] = q.Get("gw"), q.Get("top")
	if form["top"] == "" {
		form["top"] = "10"
	}
	req := report.Request{Kind: kind, From: from, To: to, Gateway: q.Get("gw"), Measure: q.Get("m")}
	req.ScopeGateways, req.ScopeGroups = c.user.Scope()
	req.FromSQL = l.from()
	if v := q.Get("by"); len(v) == 1 {
		req.By = v[0]
	} else if v != "" {
		err = errors.Join(err, fmt.Errorf("by %q: want one dimension letter", v))
	}
	if req.Top, _ = strconv.Atoi(form["top"]); req.Top <= 0 {
		req.Top = 10
	}
	return req, form, err
}

// reportOptions are the dimensions and measures the report can be asked
// by, the request's marked.
func reportOptions(c *ctx, kind report.Kind, req report.Request) (dims, measures []option) {
	for i := 0; i < len(kind.By); i++ {
		l := kind.By[i : i+1]
		dims = append(dims, option{Letter: l, Label: langs[c.lang]["dim_"+l], On: req.By == kind.By[i]})
	}
	if src, ok := rollup.SourceByLetter(kind.Table); ok && kind.Table != 0 {
		for _, m := range src.Measures {
			measures = append(measures, option{Name: m.Column, On: m.Column == req.Measure})
		}
	}
	return dims, measures
}

// reportCSV answers the report as a CSV download.
func (s *Server) reportCSV(w http.ResponseWriter, kind report.Kind, from time.Time, l logs, rep *report.Report) int {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="acstore-%s-%s.csv"`, kind.Name, from.Format("20060102-1504")))
	if m := l.missing(); len(m) > 0 {
		w.Header().Set("X-Acstore-Missing-Shards", strings.Join(m, ","))
	}
	w.WriteHeader(http.StatusOK)
	if err := rep.WriteCSV(w); err != nil {
		s.log.Warn("csv", "err", err)
	}
	return http.StatusOK
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func langIndex(lang string) int {
	if strings.HasPrefix(lang, "zh") {
		return 1
	}
	return 0
}
