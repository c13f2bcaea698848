package datasync

import (
	"net/http"
	"time"
)

// checkWindow refuses a window outside the range the server accepts for a
// gateway: from its first window (or now, for a gateway that never sent
// one) minus WindowPast, to now plus WindowFuture. Every upload and commit
// is checked before a byte is stored, so a branch with a broken clock, or a
// hostile one, cannot make head office create a day table per day name
// from year 0000 to 9999. The answer is 422 with quarantine set: sending
// the file again cannot succeed.
func (s *Server) checkWindow(gw, name string, w time.Time) error {
	now := time.Now()
	first := now
	if f := s.state.get(gw).FirstWindow; f != "" {
		if t, err := time.ParseInLocation(WindowLayout, f, time.Local); err == nil && t.Before(first) {
			first = t
		}
	}
	lo, hi := first.Add(-s.cfg.WindowPast), now.Add(s.cfg.WindowFuture)
	if w.Before(lo) || w.After(hi) {
		s.stats.BadWindows.Add(1)
		e := fail(http.StatusUnprocessableEntity, "%s: window %s is outside the range accepted for gateway %s (%s to %s: -window-past %v before its first window, -window-future %v after now); nothing is stored",
			name, windowName(w), gw, windowName(lo), windowName(hi), s.cfg.WindowPast, s.cfg.WindowFuture)
		e.Body.Quarantine = true
		return e
	}
	return nil
}

// firstWindow records the gateway's first window, once, before its first
// file is stored.
func (s *Server) firstWindow(gw string, w time.Time) error {
	if s.state.get(gw).FirstWindow != "" {
		return nil
	}
	return s.state.update(gw, func(g *GatewayState) {
		if g.FirstWindow == "" {
			g.FirstWindow = windowName(w)
		}
	})
}
