package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// payloads are SQL injection and XSS attempts; each goes into every
// filter field.
var payloads = []string{
	`' OR '1'='1`,
	`' OR 1=1 -- `,
	`" OR ""="`,
	`'; DROP TABLE console_users; --`,
	`1; DROP TABLE A20220317`,
	`' UNION SELECT name, hash, role FROM console_users -- `,
	`') OR ('a'='a`,
	`\' OR 1=1 #`,
	`%' OR '%'='`,
	`_`,
	`%`,
	`' AND SLEEP(5) -- `,
	`0x27204f5220313d31`,
	"admin'/*",
	"\x00' OR 1=1",
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`javascript:alert(document.cookie)`,
	`</textarea><svg onload=alert(1)>`,
	`{{.}}{{template "layout"}}`,
	`' onmouseover='alert(1)`,
	`<iframe src=//evil.example>`,
}

// leaked reports what a body shows that it must not: a payload's markup
// unescaped, a database error, a hash.
func leaked(body, payload string) string {
	if strings.ContainsAny(payload, `<>"`) && strings.Contains(body, payload) {
		return "payload unescaped"
	}
	for _, bad := range []string{"SQL syntax", "Error 1064", "$2a$", "You have an error"} {
		if strings.Contains(body, bad) {
			return bad
		}
	}
	// The only scripts are the console's own files.
	if n, own := strings.Count(body, "<script"), strings.Count(body, `<script src="/static/`); n != own {
		return fmt.Sprintf("%d script tags, %d of them the console's", n, own)
	}
	return ""
}

// TestSecurity feeds every filter field injection and XSS payloads, has an
// auditor try admin URLs and other gateways' data, posts without CSRF
// tokens, tries session fixation, 1,000 wrong passwords and path
// traversal on attachments. Each attempt must get its documented status,
// show nothing it must not, and be in the audit trail.
func TestSecurity(t *testing.T) {
	f := newFixture(t, 3*time.Second)
	admin := f.client(t, "")
	if st := admin.login(t, "admin", f.adminPW); st != http.StatusSeeOther {
		t.Fatalf("admin login: %d", st)
	}
	rowsA := f.count(t, "SELECT COUNT(*) FROM A"+dayWeb)
	span := "&from=2022-03-17T00:00&to=2022-03-18T00:00"

	t.Run("injection", func(t *testing.T) {
		// field, the query around it, the status documented for a value
		// the field cannot take (400) or takes literally (200, 0 rows).
		fields := []struct {
			name, path string
			status     int
		}{
			{"user", "/search?t=A" + span + "&user=", 200},
			{"group", "/search?t=A" + span + "&group=", 200},
			{"app", "/search?t=A" + span + "&app=", 200},
			{"host contains", "/search?t=U" + span + "&field=host&q=", 200},
			{"subject contains", "/search?t=M&from=2013-12-17T00:00&to=2013-12-18T00:00&field=mail_subject&q=", 200},
			{"gateway", "/search?t=A" + span + "&gw=", 400},
			{"ip", "/search?t=A" + span + "&ip=", 400},
			{"table", "/search?" + span[1:] + "&t=", 400},
			{"from", "/search?t=A&to=2022-03-18T00:00&from=", 400},
			{"field", "/search?t=U" + span + "&q=x&field=", 400},
			{"report gateway", "/report/traffic?" + span[1:] + "&gw=", 400},
			{"report by", "/report/traffic?" + span[1:] + "&by=", 400},
			{"report measure", "/report/traffic?" + span[1:] + "&m=", 400},
		}
		n := 0
		for _, fl := range fields {
			for _, p := range payloads {
				path := fl.path + url.QueryEscape(p)
				before := f.auditCount(t, "filter = ?", path)
				st, body := admin.get(t, path)
				n++
				want := fl.status
				if p == "%" || p == "_" {
					// LIKE wildcards are escaped: they match themselves.
					if fl.status == 200 {
						want = 200
					}
				}
				if st != want {
					t.Errorf("%s = %q: status %d, want %d", fl.name, p, st, want)
				}
				if st == 200 && strings.HasPrefix(path, "/search") {
					if n := admin.total(t, path); n != "0" {
						t.Errorf("%s = %q: %s rows found, want 0", fl.name, p, n)
					}
				}
				if l := leaked(body, p); l != "" {
					t.Errorf("%s = %q: response leaks: %s", fl.name, p, l)
				}
				if f.auditCount(t, "filter = ?", path) != before+1 {
					t.Errorf("%s = %q: not in the audit trail", fl.name, p)
				}
			}
		}
		if n < 30 {
			t.Fatalf("only %d payloads", n)
		}
		if got := f.count(t, "SELECT COUNT(*) FROM A"+dayWeb); got != rowsA {
			t.Errorf("A%s has %d rows after the payloads, had %d", dayWeb, got, rowsA)
		}
		if got := f.count(t, "SELECT COUNT(*) FROM console_users"); got != 3 {
			t.Errorf("console_users has %d rows, want 3", got)
		}
		t.Logf("%d injection attempts", n)
	})

	t.Run("auditor scope", func(t *testing.T) {
		aud := f.client(t, "")
		if st := aud.login(t, "auditor", f.auditorPW); st != http.StatusSeeOther {
			t.Fatalf("auditor login: %d", st)
		}
		tok := aud.csrf(t)
		var otherMail uint64
		must(t, f.db.QueryRow("SELECT id FROM M"+dayMail+" WHERE gw = ? LIMIT 1", gwOther).Scan(&otherMail))
		var otherRow uint64
		must(t, f.db.QueryRow("SELECT id FROM A"+dayWeb+" WHERE gw = ? LIMIT 1", gwOther).Scan(&otherRow))
		for _, c := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/admin/users", 403},
			{"GET", "/admin/audit", 403},
			{"POST", "/admin/users", 403},
			{"POST", "/admin/users/delete", 403},
			{"GET", "/search?t=A" + span + "&gw=" + gwOther, 403},
			{"GET", "/search/count?t=A" + span + "&gw=" + gwOther, 403},
			{"GET", "/report/traffic?" + span[1:] + "&gw=" + gwOther, 403},
			{"GET", fmt.Sprintf("/row/A%s/%s/%d", dayWeb, gwOther, otherRow), 404},
			{"GET", fmt.Sprintf("/mail/M%s/%s/%d", dayMail, gwOther, otherMail), 404},
			{"GET", fmt.Sprintf("/att/M%s/%s/%d/0", dayMail, gwOther, otherMail), 404},
		} {
			var st int
			var body string
			if c.method == "POST" {
				st, body = aud.post(t, c.path, url.Values{"csrf": {tok}, "name": {"admin"}, "role": {"admin"}, "password": {"takeover-password"}})
			} else {
				st, body = aud.get(t, c.path)
			}
			if st != c.status {
				t.Errorf("auditor %s %s: status %d, want %d", c.method, c.path, st, c.status)
			}
			if strings.Contains(body, gwOther) && !strings.Contains(c.path, gwOther) {
				t.Errorf("auditor %s %s: the answer names %s", c.method, c.path, gwOther)
			}
			if f.auditCount(t, "user = 'auditor' AND status = ? AND filter LIKE ?", c.status, c.path+"%") == 0 {
				t.Errorf("auditor %s %s: not in the audit trail", c.method, c.path)
			}
		}
		// Without a gateway, the auditor sees its gateway's rows only.
		_, body := aud.get(t, "/search?t=A"+span)
		if want, got := fmt.Sprint(f.count(t, "SELECT COUNT(*) FROM A"+dayWeb+" WHERE gw = ?", gwMain)), aud.total(t, "/search?t=A"+span); got != want {
			t.Errorf("auditor's search: %s rows, want %s (gateway %s only)", got, want, gwMain)
		}
		if strings.Contains(body, gwOther) {
			t.Errorf("auditor's search shows %s", gwOther)
		}
		_, body = aud.get(t, "/report/traffic?"+span[1:]+"&by=U&m=sessions&format=csv")
		var want strings.Builder
		want.WriteString("user,bytes_up,bytes_down,pkts_up,pkts_down,sessions\n")
		rows, err := f.db.Query("SELECT COALESCE(user, '(none)'), SUM(bytes_up), SUM(bytes_down), SUM(pkts_up), SUM(pkts_down), COUNT(*) FROM A"+dayWeb+" WHERE gw = ? GROUP BY user ORDER BY 6 DESC, user", gwMain)
		must(t, err)
		for rows.Next() {
			var u string
			var a, b, c, d, e uint64
			must(t, rows.Scan(&u, &a, &b, &c, &d, &e))
			fmt.Fprintf(&want, "%s,%d,%d,%d,%d,%d\n", u, a, b, c, d, e)
		}
		rows.Close()
		if body != want.String() {
			t.Errorf("auditor's report CSV:\n%s\nwant (gateway %s only, from raw rows):\n%s", body, gwMain, want.String())
		}
		if got := f.count(t, "SELECT COUNT(*) FROM console_users WHERE name = 'admin' AND role = 'admin'"); got != 1 {
			t.Errorf("admin account changed by an auditor")
		}
		// A group-limited auditor.
		emea := f.client(t, "")
		if st := emea.login(t, "emea", f.auditorPW); st != http.StatusSeeOther {
			t.Fatalf("emea login: %d", st)
		}
		if want, got := fmt.Sprint(f.count(t, "SELECT COUNT(*) FROM U"+dayWeb+" WHERE grp = 'Sales/EMEA'")), emea.total(t, "/search?t=U"+span); got != want {
			t.Errorf("group auditor's search: %s rows, want %s", got, want)
		}
	})

	t.Run("csrf", func(t *testing.T) {
		for _, c := range []struct {
			path string
			form url.Values
		}{
			{"/admin/users", url.Values{"name": {"mallory"}, "role": {"admin"}, "password": {"mallory-password"}}},
			{"/admin/users", url.Values{"csrf": {"forged-token-forged-token-forged-token-abc"}, "name": {"mallory"}, "role": {"admin"}, "password": {"mallory-password"}}},
			{"/admin/users/delete", url.Values{"name": {"auditor"}}},
			{"/logout", nil},
		} {
			st, _ := admin.post(t, c.path, c.form)
			if st != http.StatusForbidden {
				t.Errorf("POST %s without the CSRF token: %d, want 403", c.path, st)
			}
			if f.auditCount(t, "action LIKE 'denied:%' AND status = 403 AND filter = ?", c.path) == 0 {
				t.Errorf("POST %s without the CSRF token: not in the audit trail", c.path)
			}
		}
		if f.count(t, "SELECT COUNT(*) FROM console_users WHERE name IN ('mallory', 'auditor')") != 1 {
			t.Error("a POST without the CSRF token changed the users")
		}
		if st, _ := admin.get(t, "/search?t=Q"); st != 200 {
			t.Errorf("the session ended by a logout without token: %d", st)
		}
		// The login form too (login CSRF).
		anon := f.client(t, "")
		st, _ := anon.post(t, "/login", url.Values{"user": {"admin"}, "password": {f.adminPW}})
		if st != http.StatusForbidden {
			t.Errorf("login without the form's token: %d, want 403", st)
		}
	})

	t.Run("session fixation", func(t *testing.T) {
		c := f.client(t, "")
		u, _ := url.Parse(f.url)
		planted := strings.Repeat("A", 43)
		c.Jar.SetCookies(u, []*http.Cookie{{Name: "acs_session", Value: planted, Path: "/"}})
		if st := c.login(t, "admin", f.adminPW); st != http.StatusSeeOther {
			t.Fatalf("login: %d", st)
		}
		var got string
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "acs_session" {
				got = ck.Value
			}
		}
		if got == "" || got == planted {
			t.Fatalf("session id after login %q: the planted id was kept", got)
		}
		attacker := f.client(t, "")
		attacker.Jar.SetCookies(u, []*http.Cookie{{Name: "acs_session", Value: planted, Path: "/"}})
		if st, _ := attacker.get(t, "/search"); st != http.StatusSeeOther {
			t.Errorf("the planted session id opens /search: %d, want 303 to /login", st)
		}
	})

	t.Run("password guessing", func(t *testing.T) {
		c := f.client(t, "")
		_, page := c.get(t, "/login")
		tok := csrfOf(page)
		counts := map[int]int{}
		for i := 0; i < 1000; i++ {
			st, body := c.post(t, "/login", url.Values{"csrf": {tok}, "user": {"admin"}, "password": {fmt.Sprintf("guess-%04d", i)}})
			counts[st]++
			tok = csrfOf(body)
		}
		if counts[401] != 5 || counts[429] != 995 {
			t.Errorf("1,000 wrong passwords: %v, want 5×401 then 995×429", counts)
		}
		// The right password from the same address is refused while
		// locked out, without being checked.
		st, body := c.post(t, "/login", url.Values{"csrf": {tok}, "user": {"admin"}, "password": {f.adminPW}})
		if st != http.StatusTooManyRequests {
			t.Errorf("right password during the lockout: %d, want 429", st)
		}
		tok = csrfOf(body)
		// The right user from another address gets in at once.
		other := f.client(t, "127.0.0.2")
		if st := other.login(t, "admin", f.adminPW); st != http.StatusSeeOther {
			t.Errorf("admin from 127.0.0.2 during the lockout of 127.0.0.1: %d, want 303", st)
		}
		// And from the same address once the lockout (3 s here) is over.
		time.Sleep(3100 * time.Millisecond)
		st, _ = c.post(t, "/login", url.Values{"csrf": {tok}, "user": {"admin"}, "password": {f.adminPW}})
		if st != http.StatusSeeOther {
			t.Errorf("right password after the lockout: %d, want 303", st)
		}
		if n := f.auditCount(t, "action = 'denied:login' AND user = 'admin' AND addr = '127.0.0.1'"); n < 1000 {
			t.Errorf("audit trail has %d refused logins, want ≥ 1000", n)
		}
	})

	t.Run("path traversal", func(t *testing.T) {
		var id uint64
		must(t, f.db.QueryRow("SELECT id FROM M"+dayMail+" WHERE gw = ? AND mail_subject = 'zip test'", gwMain).Scan(&id))
		// A row whose attachment list names paths instead of hashes.
		_, err := f.db.Exec("INSERT INTO M"+dayMail+" (id, gw, ts, proto, command, direction, attachments) VALUES (1, ?, '2013-12-17 10:00:00', 'smtp', 'DATA', 'send', ?)",
			gwMain, "../../../../etc/passwd 100 text/plain passwd\n/etc/passwd 100 text/plain passwd\n"+strings.Repeat("0", 63)+"/ 1 a b")
		must(t, err)
		base := fmt.Sprintf("/att/M%s/%s/%d/", dayMail, gwMain, id)
		for _, c := range []struct {
			path   string
			status int
		}{
			{base + "..%2f..%2f..%2f..%2fetc%2fpasswd", 404},
			{base + "-1", 404},
			{base + "99", 404},
			{base + "0%00", 404},
			{fmt.Sprintf("/att/M%s/%s/1/0", dayMail, gwMain), 404},
			{fmt.Sprintf("/att/M%s/%s/1/1", dayMail, gwMain), 404},
			{fmt.Sprintf("/att/M%s/%s/1/2", dayMail, gwMain), 404},
			{fmt.Sprintf("/att/..%%2f..%%2fetc/%s/%d/0", gwMain, id), 404},
			{fmt.Sprintf("/att/M%s/..%%2f..%%2f/%d/0", dayMail, id), 404},
			{fmt.Sprintf("/att/M%s/%s/%d/0", "%2e%2e", gwMain, id), 404},
		} {
			st, body := admin.get(t, c.path)
			if st != c.status {
				t.Errorf("GET %s: %d, want %d", c.path, st, c.status)
			}
			if strings.Contains(body, "root:") {
				t.Errorf("GET %s: /etc/passwd leaked", c.path)
			}
			if f.auditCount(t, "action = 'attachment' AND status = ? AND filter = ?", c.status, c.path) == 0 {
				t.Errorf("GET %s: not in the audit trail", c.path)
			}
		}
		// The real attachment still downloads.
		if st, body := admin.get(t, base+"0"); st != 200 || len(body) != 310 {
			t.Errorf("GET %s0: %d, %d bytes; want 200, 310 bytes", base, st, len(body))
		}
	})
}
