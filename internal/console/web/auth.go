package web

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/acstore/acstore/internal/console/account"
	"github.com/acstore/acstore/internal/console/session"
)

// preCookie holds the login form's CSRF token (double submit): there is no
// session before the login, and a login CSRF would log the victim into
// the attacker's account.
const preCookie = "acs_login"

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, c *ctx) int {
	if c.user != nil {
		http.Redirect(w, r, "/search", http.StatusSeeOther)
		return http.StatusSeeOther
	}
	return s.showLogin(w, c, http.StatusOK, "")
}

func (s *Server) showLogin(w http.ResponseWriter, c *ctx, status int, msg string) int {
	tok := session.Token()
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: tok, Path: "/login", HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode})
	c.sess = &session.Session{CSRF: tok}
	data := map[string]any{}
	if msg != "" {
		data["Error"] = msg
	}
	c.user = nil
	return s.render(w, c, status, "login", langs[c.lang]["login"], data)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, c *ctx) int {
	name := r.PostFormValue("user")
	c.filter = "POST /login user=" + strconv.Quote(name)
	c.attempt = name
	pre, err := r.Cookie(preCookie)
	tok := r.PostFormValue("csrf")
	if err != nil || tok == "" || subtle.ConstantTimeCompare([]byte(pre.Value), []byte(tok)) != 1 {
		c.user = nil
		return s.showLogin(w, c, http.StatusForbidden, "missing or wrong CSRF token; reload the page")
	}
	addr := clientAddr(r)
	if ok, wait := s.limiter.Allow(addr, name); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		c.user = nil
		return s.showLogin(w, c, http.StatusTooManyRequests, langs[c.lang]["toomany"]+fmt.Sprintf(" (%ds)", int(wait.Seconds())+1))
	}
	u, err := s.users.Authenticate(r.Context(), name, r.PostFormValue("password"))
	if errors.Is(err, account.ErrBadLogin) {
		s.limiter.Fail(addr, name)
		c.user = nil
		return s.showLogin(w, c, http.StatusUnauthorized, langs[c.lang]["badlogin"])
	}
	if err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	s.limiter.Succeed(addr, name)
	// A new session id whatever the request carried: no fixation.
	if _, err := s.sessions.Start(r.Context(), w, r, u.Name); err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	c.user = u
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: "", Path: "/login", MaxAge: -1})
	http.Redirect(w, r, "/search", http.StatusSeeOther)
	return http.StatusSeeOther
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *ctx) int {
	if err := s.sessions.End(r.Context(), w, r); err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return http.StatusSeeOther
}
