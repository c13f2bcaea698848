package datasync

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// fail is the answer to a refused request; its body's Offset and
// Quarantine and its RetryAfter are set where they apply.
func fail(status int, format string, args ...any) *StatusError {
	return &StatusError{Status: status, Body: ErrorBody{Error: fmt.Sprintf(format, args...)}}
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request, gw string, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		he, ok := err.(*StatusError)
		if !ok {
			he = fail(http.StatusInternalServerError, "%s", err)
		}
		s.stats.Rejected.Add(1)
		// Rate-limited: a flood of bad requests must not flood the log;
		// the counters in the metrics count them all.
		if ok, dropped := s.logLim.allow(); ok {
			s.log.Warn("request refused", "gw", gw, "method", r.Method, "path", r.URL.EscapedPath(), "status", he.Status, "err", he.Body.Error, "remote", r.RemoteAddr, "not_logged_before", dropped)
		}
		if he.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((he.RetryAfter+time.Second-1)/time.Second)))
		}
		w.WriteHeader(he.Status)
		json.NewEncoder(w).Encode(he.Body)
		return
	}
	json.NewEncoder(w).Encode(v)
}

// Handler returns the protocol's HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw, err := s.authenticate(r)
		if err != nil {
			s.reply(w, r, gw, nil, err)
			return
		}
		// The raw path: a cleaned one would turn ../ into a redirect.
		path := r.URL.EscapedPath()
		var v any
		switch {
		case r.Method == http.MethodGet && path == "/v1/progress":
			v, err = s.progress(gw)
		case strings.HasPrefix(path, "/v1/files/"):
			var name string
			if name, err = pathSegment(path, "/v1/files/"); err != nil {
				break
			}
			switch r.Method {
			case http.MethodGet:
				v, err = s.fileStatus(r, gw, name)
			case http.MethodPut:
				v, err = s.upload(w, r, gw, name)
			default:
				err = fail(http.StatusMethodNotAllowed, "use GET or PUT on /v1/files/")
			}
		case r.Method == http.MethodPost && strings.HasPrefix(path, "/v1/windows/"):
			var win string
			if win, err = pathSegment(path, "/v1/windows/"); err == nil {
				v, err = s.commit(r, gw, win)
			}
		default:
			err = fail(http.StatusNotFound, "no such endpoint %s %s", r.Method, path)
		}
		s.reply(w, r, gw, v, err)
	})
}

// pathSegment returns the one path segment after prefix, unescaped.
func pathSegment(path, prefix string) (string, error) {
	raw := strings.TrimPrefix(path, prefix)
	name, err := urlUnescape(raw)
	if err != nil || name == "" {
		return "", fail(http.StatusBadRequest, "bad name %q", raw)
	}
	return name, nil
}

func urlUnescape(s string) (string, error) {
	// url.PathUnescape, inlined to keep %2F from becoming a separator
	// silently: a name with a slash is refused by parseTarget anyway.
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("bad escape")
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", errors.New("bad escape")
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}
