package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/console/account"
	"github.com/acstore/acstore/internal/console/auditlog"
	"github.com/acstore/acstore/internal/console/branches"
)

func (s *Server) branches(w http.ResponseWriter, r *http.Request, c *ctx) int {
	st, err := branches.Read(s.cfg.Root, time.Now())
	if err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	// An auditor limited to gateways sees only theirs.
	var gws []branches.Gateway
	for _, g := range st.Gateways {
		if c.user.SeesGateway(g.Gateway) {
			gws = append(gws, g)
		}
	}
	st.Gateways = gws
	if st.Client != nil && !c.user.SeesGateway(st.Client.Gateway) {
		st.Client = nil
	}
	data := map[string]any{"Status": st, "DiskFree": bytesText(st.DiskFree), "DiskTotal": bytesText(st.DiskTotal)}
	if s.cfg.Front != nil {
		// Past one server: each gateway's shard today, and whether it answers.
		l, err := s.logs(r.Context())
		if err != nil {
			return s.fail(w, r, c, http.StatusInternalServerError, err)
		}
		type shardCell struct {
			Name string
			Up   bool
		}
		cells := map[string]shardCell{}
		for _, g := range st.Gateways {
			name, up := l.shardOf(g.Gateway, time.Now())
			cells[g.Gateway] = shardCell{name, up}
		}
		data["Sharded"], data["Shards"] = true, cells
	}
	return s.render(w, c, http.StatusOK, "branches", langs[c.lang]["branches"], data)
}

func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, c *ctx) int {
	return s.showUsers(w, r, c, http.StatusOK, "")
}

func (s *Server) showUsers(w http.ResponseWriter, r *http.Request, c *ctx, status int, msg string) int {
	users, err := s.users.List(r.Context())
	if err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	data := map[string]any{"Users": users}
	if msg != "" {
		data["Error"] = msg
	}
	return s.render(w, c, status, "users", langs[c.lang]["users"], data)
}

func fields(s, seps string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(seps, r) })
}

func (s *Server) userPut(w http.ResponseWriter, r *http.Request, c *ctx) int {
	u := account.User{Name: r.PostFormValue("name"), Role: account.Role(r.PostFormValue("role")),
		Gateways: fields(strings.ToUpper(r.PostFormValue("gateways")), ", "), Groups: fields(r.PostFormValue("groups"), ";\n")}
	c.filter = "name=" + strconv.Quote(u.Name) + " role=" + string(u.Role)
	if err := s.users.Put(r.Context(), u, r.PostFormValue("password")); err != nil {
		return s.showUsers(w, r, c, http.StatusBadRequest, err.Error())
	}
	s.sessions.EndUser(r.Context(), u.Name)
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
	return http.StatusSeeOther
}

func (s *Server) userDelete(w http.ResponseWriter, r *http.Request, c *ctx) int {
	name := r.PostFormValue("name")
	c.filter = "name=" + strconv.Quote(name)
	if name == c.user.Name {
		return s.showUsers(w, r, c, http.StatusBadRequest, "you cannot delete yourself")
	}
	if err := s.users.Delete(r.Context(), name); err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	s.sessions.EndUser(r.Context(), name)
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
	return http.StatusSeeOther
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, c *ctx) int {
	q := r.URL.Query()
	before, _ := strconv.ParseUint(q.Get("before"), 10, 64)
	entries, err := s.audit.List(r.Context(), auditlog.Query{User: q.Get("user"), Action: q.Get("action"), Before: before, Limit: 200})
	if err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	data := map[string]any{"Entries": entries, "Form": map[string]string{"user": q.Get("user"), "action": q.Get("action")}}
	if len(entries) == 200 {
		q.Set("before", strconv.FormatUint(entries[len(entries)-1].Seq, 10))
		data["NextURL"] = "/admin/audit?" + q.Encode()
	}
	return s.render(w, c, http.StatusOK, "audit", langs[c.lang]["audit"], data)
}
