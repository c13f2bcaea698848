package audit

import (
	"net/netip"
	"strings"

	"github.com/acstore/acstore/aclog/internal/proto/form"
	"github.com/acstore/acstore/aclog/internal/proto/http"
	"github.com/acstore/acstore/aclog/internal/proto/textconn"
)

// httpExtras reports what an HTTP request carries besides its U row: a
// Post for a POST or PUT body, and a Credential for HTTP Basic
// authorization or a login form (a user field next to a password field).
func (e *Engine) httpExtras(client, server netip.AddrPort, tx *http.Transaction) {
	result := httpResult(tx)
	host := tx.Host
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	e.basicCredential(client, server, tx, host, result)
	if (tx.Method != "POST" && tx.Method != "PUT") || tx.RequestBodyLen == 0 {
		return
	}
	p := &Post{
		Time: tx.RequestTime, Client: client, Server: server, Method: tx.Method, Host: tx.Host, URI: tx.URI,
		ContentType: tx.RequestContentType, BodyLen: tx.RequestBodyLen, Cut: tx.RequestBodyCut,
	}
	fields, files, ok := form.Parse(tx.RequestContentType, tx.RequestBody, form.Limits{
		MaxFields: form.DefaultLimits.MaxFields, MaxValue: form.DefaultLimits.MaxValue,
		MaxFile: e.cfg.MaxFileBytes, MaxParts: form.DefaultLimits.MaxParts,
	})
	if ok {
		p.Form, p.Files = fields, files
		if tx.RequestBodyCut {
			for i := range p.Files {
				if i == len(p.Files)-1 {
					p.Files[i].Cut = true // the last file is where the cut fell
				}
			}
		}
	} else {
		p.Body = tx.RequestBody
	}
	e.stats.PostRecords++
	e.sink.Post(p)
	// A login form: a user field and a password field.
	user, passLen, hasPass := loginFields(fields)
	if hasPass && user != "" {
		e.stats.CredentialRecords++
		e.sink.Credential(&Credential{Time: tx.RequestTime, Client: client, Server: server, Proto: "http", Mechanism: "form",
			ServerName: host, User: user, PassLen: passLen, Result: textconn.Unknown})
	}
}

// httpResult is whether the server accepted or refused the request, from
// its response status.
func httpResult(tx *http.Transaction) textconn.Result {
	result := textconn.Unknown
	if tx.HasResponse {
		switch {
		case tx.Status == 401 || tx.Status == 403:
			result = textconn.Refused
		case tx.Status >= 200 && tx.Status < 400:
			result = textconn.Accepted
		}
	}
	return result
}

// basicCredential reports the HTTP Basic authorization of the request, if
// it has one (host: its Host without the port).
func (e *Engine) basicCredential(client, server netip.AddrPort, tx *http.Transaction, host string, result textconn.Result) {
	if scheme, cred, ok := strings.Cut(tx.Authorization, " "); ok && strings.EqualFold(scheme, "Basic") {
		if b, ok := textconn.DecodeBase64(cred); ok {
			user, pass, _ := strings.Cut(string(b), ":")
			e.stats.CredentialRecords++
			e.sink.Credential(&Credential{Time: tx.RequestTime, Client: client, Server: server, Proto: "http", Mechanism: "Basic",
				ServerName: host, User: user, PassLen: len(pass), Result: result})
		}
	}
}

// loginFields finds in a form's fields a user field and a password field
// (only its length is kept).
func loginFields(fields []form.Field) (user string, passLen int, hasPass bool) {
	for _, f := range fields {
		n := strings.ToLower(f.Name)
		switch {
		case f.Masked && strings.Contains(n, "pass"):
			passLen, hasPass = f.Len, true
		case user == "" && (n == "user" || n == "username" || n == "login" || n == "email" || n == "account" ||
			strings.HasSuffix(n, "username") || n == "uname" || n == "log"):
			user = f.Value
		}
	}
	return user, passLen, hasPass
}
