// Package web is the console's HTTP(S) interface: server-rendered pages
// (html/template, assets embedded with go:embed, no build step) for
// search, reports with charts (Apache ECharts, embedded), mail and
// attachments, branch status, users and the audit trail. Every page but
// the login needs a session; admin pages need the admin role; every POST
// carries the session's CSRF token; every request to a data or admin URL
// is recorded in the audit trail with its outcome.
package web

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/console/account"
	"github.com/acstore/acstore/internal/console/auditlog"
	"github.com/acstore/acstore/internal/console/session"
	"github.com/acstore/acstore/internal/spider"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the server needs.
type Config struct {
	// DB holds the console's own tables (users, sessions, audit trail)
	// and, without a Front, the logs and rollups.
	DB *sql.DB
	// Front, at a head office past one server, is the Spider front the
	// logs and rollups are read through (DB is then the default shard).
	Front  *spider.Front
	Root   string // data root: sync_files, X bundles, datasync state
	Log    *slog.Logger
	Secure bool // served over TLS: cookies get the Secure flag
	// MaxFailures and Lockout configure login rate limiting.
	MaxFailures int
	Lockout     time.Duration
}

// Server is the console.
type Server struct {
	cfg      Config
	db       *sql.DB
	log      *slog.Logger
	users    *account.Store
	sessions *session.Store
	audit    *auditlog.Log
	limiter  *account.Limiter
	pages    map[string]*template.Template
	mux      *http.ServeMux
	stats    stats
}

// New opens the console's tables and returns the server.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = 5 * time.Minute
	}
	s := &Server{cfg: cfg, db: cfg.DB, log: cfg.Log, limiter: account.NewLimiter(cfg.MaxFailures, cfg.Lockout)}
	var err error
	if s.users, err = account.Open(ctx, cfg.DB); err != nil {
		return nil, err
	}
	if s.sessions, err = session.Open(ctx, cfg.DB, cfg.Secure); err != nil {
		return nil, err
	}
	if s.audit, err = auditlog.Open(ctx, cfg.DB); err != nil {
		return nil, err
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Users returns the account store (for the command line).
func (s *Server) Users() *account.Store { return s.users }

func (s *Server) parseTemplates() error {
	layout, err := template.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return err
	}
	s.pages = make(map[string]*template.Template)
	for _, p := range []string{"login", "search", "row", "mail", "report", "branches", "users", "audit", "error"} {
		t, err := layout.Clone()
		if err != nil {
			return err
		}
		files := []string{"templates/" + p + ".html"}
		if p == "mail" {
			files = append(files, "templates/row.html")
		}
		if _, err := t.ParseFS(templateFS, files...); err != nil {
			return err
		}
		if p == "mail" {
			// row.html also defines "content"; the mail's own wins.
			if _, err := t.ParseFS(templateFS, "templates/mail.html"); err != nil {
				return err
			}
		}
		s.pages[p] = t
	}
	return nil
}

// route is one URL: what it does, who may use it, and whether requests to
// it are recorded in the audit trail.
type route struct {
	action string
	admin  bool
	public bool
	h      func(w http.ResponseWriter, r *http.Request, c *ctx) int
}

// ctx is one request's user, session and language.
type ctx struct {
	user *account.User
	sess *session.Session
	lang string
	// filter, when set by the handler, replaces the request's query in
	// the audit record (the login form: the name, never the password).
	filter string
	// attempt is the user name a login tried, recorded as its user.
	attempt string
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.FileServer(http.FS(static))
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fileServer.ServeHTTP(w, r)
	})))
	handle := func(pattern string, rt route) { mux.Handle(pattern, s.wrap(rt)) }
	handle("GET /{$}", route{action: "home", h: s.home})
	handle("GET /login", route{action: "login-page", public: true, h: s.loginPage})
	handle("POST /login", route{action: "login", public: true, h: s.login})
	handle("POST /logout", route{action: "logout", h: s.logout})
	handle("GET /search", route{action: "search", h: s.search})
	handle("GET /search/count", route{action: "count", h: s.searchCount})
	handle("GET /row/{day}/{gw}/{id}", route{action: "row", h: s.row})
	handle("GET /mail/{day}/{gw}/{id}", route{action: "mail", h: s.mail})
	handle("GET /att/{day}/{gw}/{id}/{n}", route{action: "attachment", h: s.attachment})
	handle("GET /report", route{action: "report", h: s.reportHome})
	handle("GET /report/{kind}", route{action: "report", h: s.report})
	handle("GET /branches", route{action: "branches", h: s.branches})
	handle("GET /admin/users", route{action: "users", admin: true, h: s.usersPage})
	handle("POST /admin/users", route{action: "user-put", admin: true, h: s.userPut})
	handle("POST /admin/users/delete", route{action: "user-delete", admin: true, h: s.userDelete})
	handle("GET /admin/audit", route{action: "audit", admin: true, h: s.auditPage})
	s.mux = mux
}

// ServeHTTP serves the console with its security headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if s.cfg.Secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.mux.ServeHTTP(w, r)
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wrap loads the session, enforces the route's access rule and CSRF, runs
// the handler and records the request.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w0 http.ResponseWriter, r *http.Request) {
		w := &statusWriter{ResponseWriter: w0}
		c := &ctx{lang: langOf(w, r)}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		status := s.serve(w, r, rt, c)
		if w.status == 0 && status != 0 {
			w.WriteHeader(status)
		}
		s.count(rt.action, w.status)
		if rt.action == "login-page" {
			return
		}
		name := ""
		if c.user != nil {
			name = c.user.Name
		}
		if name == "" {
			name = c.attempt
		}
		filter := r.RequestURI
		if c.filter != "" {
			filter = c.filter
		}
		action := rt.action
		if w.status == http.StatusForbidden || w.status == http.StatusUnauthorized || w.status == http.StatusTooManyRequests {
			action = "denied:" + rt.action
		}
		err := s.audit.Record(context.WithoutCancel(r.Context()), auditlog.Entry{User: name, Addr: clientAddr(r), Action: action, Status: w.status, Filter: filter})
		if err != nil {
			s.log.Error("audit trail", "err", err)
		}
	})
}

func (s *Server) serve(w *statusWriter, r *http.Request, rt route, c *ctx) int {
	sess, err := s.sessions.Get(r.Context(), r)
	if err != nil && !errors.Is(err, session.ErrNone) {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	if sess != nil {
		u, err := s.users.Get(r.Context(), sess.User)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			sess = nil // the user was deleted
		case err != nil:
			return s.fail(w, r, c, http.StatusInternalServerError, err)
		default:
			c.user, c.sess = u, sess
		}
	}
	if !rt.public && c.user == nil {
		if r.Method == http.MethodGet {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return http.StatusSeeOther
		}
		return s.fail(w, r, c, http.StatusForbidden, errors.New("not logged in"))
	}
	if rt.admin && !c.user.IsAdmin() {
		return s.fail(w, r, c, http.StatusForbidden, errors.New("admins only"))
	}
	if r.Method == http.MethodPost && !rt.public && !c.sess.CheckCSRF(r) {
		return s.fail(w, r, c, http.StatusForbidden, errors.New("missing or wrong CSRF token"))
	}
	return rt.h(w, r, c)
}

// render writes a page with status.
func (s *Server) render(w http.ResponseWriter, c *ctx, status int, name, title string, data any) int {
	p := map[string]any{"Title": title, "Nav": name, "Lang": c.lang, "L": langs[c.lang], "User": c.user}
	if c.sess != nil {
		p["CSRF"] = c.sess.CSRF
	}
	if m, ok := data.(map[string]any); ok {
		for k, v := range m {
			p[k] = v
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var b strings.Builder
	if err := s.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		s.log.Error("render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
	return status
}

// fail answers an error page with status; the message is shown escaped.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, c *ctx, status int, err error) int {
	if status >= 500 && !errors.As(err, new(unavailable)) {
		s.log.Error("request", "path", r.URL.Path, "err", err)
		err = errors.New("internal error; see the console's log")
	}
	return s.render(w, c, status, "error", http.StatusText(status), map[string]any{"Error": err.Error()})
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, c *ctx) int {
	http.Redirect(w, r, "/search", http.StatusSeeOther)
	return http.StatusSeeOther
}
