package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acstore/acstore/internal/daemon"
)

// stats are the console's counters.
type stats struct {
	Requests, Searches, Reports, Downloads, Denied, Logins, LoginFailures atomic.Uint64
}

func (s *Server) count(action string, status int) {
	st := &s.stats
	st.Requests.Add(1)
	switch {
	case status == http.StatusForbidden || status == http.StatusTooManyRequests || status == http.StatusUnauthorized:
		st.Denied.Add(1)
		if action == "login" {
			st.LoginFailures.Add(1)
		}
	case action == "search":
		st.Searches.Add(1)
	case action == "report":
		st.Reports.Add(1)
	case action == "attachment":
		st.Downloads.Add(1)
	case action == "login" && status == http.StatusSeeOther:
		st.Logins.Add(1)
	}
}

// Register adds the console's metrics to reg.
func (s *Server) Register(reg prometheus.Registerer) {
	st := &s.stats
	reg.MustRegister(
		daemon.Counter("console", "requests_total", "Requests served.", &st.Requests),
		daemon.Counter("console", "searches_total", "Searches run.", &st.Searches),
		daemon.Counter("console", "reports_total", "Reports run.", &st.Reports),
		daemon.Counter("console", "downloads_total", "Attachments downloaded.", &st.Downloads),
		daemon.Counter("console", "denied_total", "Requests refused (401, 403, 429).", &st.Denied),
		daemon.Counter("console", "logins_total", "Successful logins.", &st.Logins),
		daemon.Counter("console", "login_failures_total", "Failed or rate-limited logins.", &st.LoginFailures),
	)
}

// StatsLine is the console's 10-second stats line.
func (s *Server) StatsLine() []any {
	st := &s.stats
	return []any{slog.Uint64("requests", st.Requests.Load()), slog.Uint64("searches", st.Searches.Load()),
		slog.Uint64("reports", st.Reports.Load()), slog.Uint64("downloads", st.Downloads.Load()),
		slog.Uint64("logins", st.Logins.Load()), slog.Uint64("denied", st.Denied.Load())}
}

// Listen serves the console on ln until ctx ends, over TLS when tlsCfg is
// not nil, then shuts down cleanly.
func (s *Server) Listen(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("console: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("console shutdown: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// TLSConfig loads the server certificate.
func TLSConfig(cert, key string) (*tls.Config, error) {
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}, nil
}
