package record

import (
	"mime"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
)

// reducer remembers the last row written per key, for folding repeats.
type reducer struct {
	cfg  ReduceConfig
	last map[reduceKey]time.Time
}

type reduceKey struct {
	table byte
	ip    netip.Addr
	what  string
}

// staticTypes and staticExts are what the static rule drops.
var staticExts = map[string]bool{
	".js": true, ".css": true, ".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".ico": true,
	".svg": true, ".webp": true, ".bmp": true, ".woff": true, ".woff2": true, ".ttf": true, ".otf": true,
	".eot": true, ".map": true,
}

func staticResource(h *audit.HTTPRequest) bool {
	if h.Method != "GET" && h.Method != "HEAD" {
		return false
	}
	mt, _, _ := mime.ParseMediaType(h.ContentType)
	switch {
	case strings.HasPrefix(mt, "image/"), strings.HasPrefix(mt, "font/"), mt == "text/css",
		mt == "application/javascript", mt == "text/javascript", mt == "application/x-javascript":
		return true
	}
	u := h.URI
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return staticExts[strings.ToLower(path.Ext(u))]
}

// drop reports whether the row should not be written, counting why.
func (r *Recorder) dropU(h *audit.HTTPRequest) bool {
	c := &r.reduce.cfg
	if !c.Enabled {
		return false
	}
	if c.Static && staticResource(h) {
		r.stats.Reduced["static"]++
		return true
	}
	return r.repeat('U', h.Client.Addr(), h.Method+" "+h.Host+" "+h.URI, h.Time)
}

func (r *Recorder) dropQ(q *audit.DNSQuery) bool {
	if !r.reduce.cfg.Enabled {
		return false
	}
	return r.repeat('Q', q.Client.Addr(), q.Name+" "+q.Transport.String()+" "+strconv.Itoa(int(q.QType)), q.Time)
}

// repeat folds a row equal to one written for the same key less than
// RepeatWindow ago.
func (r *Recorder) repeat(table byte, ip netip.Addr, what string, t time.Time) bool {
	c := &r.reduce.cfg
	if c.RepeatWindow <= 0 {
		return false
	}
	k := reduceKey{table, ip, what}
	if last, ok := r.reduce.last[k]; ok && t.Sub(last) >= 0 && t.Sub(last) < c.RepeatWindow {
		r.stats.Reduced["repeat-"+string(table)]++
		return true
	}
	if len(r.reduce.last) >= c.MaxTracked {
		r.expireReduce(t)
		if len(r.reduce.last) >= c.MaxTracked {
			clear(r.reduce.last)
		}
	}
	r.reduce.last[k] = t
	return false
}

func (r *Recorder) expireReduce(now time.Time) {
	for k, t := range r.reduce.last {
		if now.Sub(t) >= r.reduce.cfg.RepeatWindow {
			delete(r.reduce.last, k)
		}
	}
}
