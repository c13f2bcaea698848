package datasync

import (
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// handshakeLog receives net/http's server error log. A refused TLS
// handshake (an untrusted or missing client certificate, a client that
// does not trust the server's) is what an operator setting up a branch
// needs to see, so it is logged as a warning with the peer and the
// reason, at most one line per interval, with how many were left out in
// between; the rest stays at debug level.
type handshakeLog struct {
	log      *slog.Logger
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

const handshakePrefix = "http: TLS handshake error from "

func newHandshakeLogger(l *slog.Logger, interval time.Duration) *log.Logger {
	return log.New(&handshakeLog{log: l, interval: interval}, "", 0)
}

func (h *handshakeLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	rest, ok := strings.CutPrefix(line, handshakePrefix)
	if !ok {
		h.log.Debug(line)
		return len(p), nil
	}
	peer, reason, _ := strings.Cut(rest, ": ")
	if reason == "EOF" {
		// A client or probe that connected and hung up: not a refusal.
		h.log.Debug("TLS handshake not completed", "peer", peer, "reason", reason)
		return len(p), nil
	}
	h.mu.Lock()
	now := time.Now()
	if !h.last.IsZero() && now.Sub(h.last) < h.interval {
		h.suppressed++
		h.mu.Unlock()
		return len(p), nil
	}
	suppressed := h.suppressed
	h.last, h.suppressed = now, 0
	h.mu.Unlock()
	h.log.Warn("refused a TLS handshake", "peer", peer, "reason", reason, "others_since_last_line", suppressed)
	return len(p), nil
}
