package record

import (
	"mime"
	"path"
	"strings"

	"github.com/acstore/acstore/aclog/internal/audit"
)

// reducer is the log reduction's state: the rules, compiled, and the U and
// Q rows held back while repeats are folded into them (heldRows).
type reducer struct {
	cfg   ReduceConfig
	exts  map[string]bool
	types []string // media types; "image/" (from "image/*") matches a prefix
	held  heldRows
	// typeMemo remembers staticType's answers by Content-Type
	typeMemo map[string]bool

	// what the rules dropped or folded (Stats.Reduced): plain counters,
	// not a map entry named per row
	static, repeatU, repeatQ uint64
}

// The Content-Types typeMemo keeps, at most, and the longest it keeps.
const (
	maxTypeMemo    = 256
	maxTypeMemoLen = 128
)

func newReducer(cfg ReduceConfig) reducer {
	r := reducer{cfg: cfg, exts: make(map[string]bool), held: newHeldRows(), typeMemo: make(map[string]bool)}
	for _, e := range cfg.StaticExts {
		r.exts["."+strings.TrimPrefix(strings.ToLower(e), ".")] = true
	}
	for _, t := range cfg.StaticTypes {
		r.types = append(r.types, strings.TrimSuffix(strings.ToLower(t), "*"))
	}
	return r
}

// folds reports whether repeats of table are folded.
func (r *reducer) folds(table byte) bool {
	return r.cfg.Enabled && r.cfg.RepeatWindow > 0 && strings.IndexByte(r.cfg.Tables, table) >= 0
}

// staticResource reports whether the static rule drops the request: a GET
// or HEAD whose response type or path extension is a configured one.
func (r *reducer) staticResource(h *audit.HTTPRequest) bool {
	if !r.cfg.Enabled || !r.cfg.Static || strings.IndexByte(r.cfg.Tables, 'U') < 0 {
		return false
	}
	if h.Method != "GET" && h.Method != "HEAD" {
		return false
	}
	if h.ContentType != "" && r.staticType(h.ContentType) {
		return true
	}
	u := h.URI
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return r.exts[strings.ToLower(path.Ext(u))]
}

// staticType reports whether the media type of Content-Type ct is a
// static one. The answers are remembered: responses repeat a few types,
// and parsing one allocates.
func (r *reducer) staticType(ct string) bool {
	if v, ok := r.typeMemo[ct]; ok {
		return v
	}
	mt, _, _ := mime.ParseMediaType(ct)
	v := false
	for _, t := range r.types {
		if mt == t || strings.HasSuffix(t, "/") && strings.HasPrefix(mt, t) {
			v = true
			break
		}
	}
	if len(ct) <= maxTypeMemoLen {
		if len(r.typeMemo) >= maxTypeMemo {
			clear(r.typeMemo)
		}
		r.typeMemo[ct] = v
	}
	return v
}
