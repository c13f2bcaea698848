package web

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/console/mailview"
	"github.com/acstore/acstore/internal/console/search"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

type field struct {
	Name, Value string
	Null, Long  bool
}

type attachmentLink struct {
	mailview.Attachment
	URL string
}

// errNotFound answers 404 for rows that do not exist and rows outside the
// user's scope alike, so the answer does not tell that a row exists.
var errNotFound = errors.New("no such row")

// loadRow reads the row named by the URL and checks the user may see it.
func (s *Server) loadRow(r *http.Request, c *ctx) (*schema.Table, []string, search.Row, error) {
	day, gw := r.PathValue("day"), r.PathValue("gw")
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || !logfile.ValidGateway(gw) {
		return nil, nil, search.Row{}, errNotFound
	}
	if _, _, err := schema.ParseDayTable(day, time.Local); err != nil {
		return nil, nil, search.Row{}, errNotFound
	}
	l, err := s.logs(r.Context())
	if err != nil {
		return nil, nil, search.Row{}, err
	}
	if !c.user.SeesGateway(gw) {
		return nil, nil, search.Row{}, errNotFound
	}
	if err := l.rowDown(day, gw); err != nil {
		return nil, nil, search.Row{}, unavailable{err}
	}
	t, cols, row, err := search.Get(r.Context(), l.db, day, gw, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, row, errNotFound
	}
	if err != nil {
		return nil, nil, row, err
	}
	if !c.user.SeesGateway(gw) || !c.user.SeesGroup(search.Value(cols, row, "grp")) {
		return nil, nil, row, errNotFound
	}
	return t, cols, row, nil
}

func (s *Server) rowError(w http.ResponseWriter, r *http.Request, c *ctx, err error) int {
	if errors.Is(err, errNotFound) {
		return s.fail(w, r, c, http.StatusNotFound, err)
	}
	if errors.As(err, new(unavailable)) {
		return s.fail(w, r, c, http.StatusServiceUnavailable, err)
	}
	return s.fail(w, r, c, http.StatusInternalServerError, err)
}

// attachmentsOf lists a row's attachments: attachments (M), file_names
// (P), or the single x_ref of O with its file_name.
func attachmentsOf(cols []string, row search.Row) []mailview.Attachment {
	for _, col := range []string{"attachments", "file_names"} {
		if v := search.Value(cols, row, col); v != "" {
			return mailview.Parse(v)
		}
	}
	if ref := search.Value(cols, row, "x_ref"); mailview.ValidSHA(ref) {
		name := search.Value(cols, row, "file_name")
		size, _ := strconv.ParseInt(search.Value(cols, row, "size"), 10, 64)
		return []mailview.Attachment{{SHA: ref, Name: name, Size: size, Type: "application/octet-stream"}}
	}
	return nil
}

func links(row search.Row, atts []mailview.Attachment) []attachmentLink {
	var out []attachmentLink
	for _, a := range atts {
		l := attachmentLink{Attachment: a}
		l.Name = clip(a.Name, 200)
		if a.Kept() {
			l.URL = fmt.Sprintf("/att/%s/%s/%d/%d", row.Day, row.Gateway, row.ID, a.Index)
		}
		out = append(out, l)
	}
	return out
}

func fieldsOf(cols []string, row search.Row, skip map[string]bool) []field {
	var out []field
	for i, col := range cols {
		if skip[col] {
			continue
		}
		v := strings.ToValidUTF8(row.Values[i], "\uFFFD")
		out = append(out, field{Name: col, Value: v, Null: row.Null[i], Long: len(v) > 120 || strings.Contains(v, "\n")})
	}
	return out
}

func (s *Server) row(w http.ResponseWriter, r *http.Request, c *ctx) int {
	t, cols, row, err := s.loadRow(r, c)
	if err != nil {
		return s.rowError(w, r, c, err)
	}
	data := map[string]any{"Day": row.Day, "Gateway": row.Gateway, "ID": row.ID,
		"Fields": fieldsOf(cols, row, nil), "Attachments": links(row, attachmentsOf(cols, row))}
	if t.Letter == 'M' {
		data["MailURL"] = fmt.Sprintf("/mail/%s/%s/%d", row.Day, row.Gateway, row.ID)
	}
	return s.render(w, c, http.StatusOK, "row", langs[c.lang]["detail"], data)
}

// mailNotHeaders are the M columns the mail page shows otherwise: the
// subject as its title, the body, the attachment list. Every other column
// of the catalogue is shown as a header line, in the catalogue's order.
var mailNotHeaders = map[string]bool{"id": true, "mail_subject": true, "mail_content": true, "attachments": true}

func (s *Server) mail(w http.ResponseWriter, r *http.Request, c *ctx) int {
	t, cols, row, err := s.loadRow(r, c)
	if err == nil && t.Letter != 'M' {
		err = errNotFound
	}
	if err != nil {
		return s.rowError(w, r, c, err)
	}
	fields := fieldsOf(cols, row, mailNotHeaders)
	subject := search.Value(cols, row, "mail_subject")
	data := map[string]any{"Subject": strings.ToValidUTF8(subject, "\uFFFD"), "Fields": fields,
		"Body":        strings.ToValidUTF8(search.Value(cols, row, "mail_content"), "\uFFFD"),
		"Attachments": links(row, attachmentsOf(cols, row)),
		"RowURL":      fmt.Sprintf("/row/%s/%s/%d", row.Day, row.Gateway, row.ID)}
	return s.render(w, c, http.StatusOK, "mail", langs[c.lang]["mail"], data)
}

func (s *Server) attachment(w http.ResponseWriter, r *http.Request, c *ctx) int {
	_, cols, row, err := s.loadRow(r, c)
	if err != nil {
		return s.rowError(w, r, c, err)
	}
	atts := attachmentsOf(cols, row)
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n >= len(atts) || !atts[n].Kept() {
		return s.fail(w, r, c, http.StatusNotFound, errors.New("no such attachment"))
	}
	a := atts[n]
	ts, err := time.ParseInLocation(search.TimeLayout, search.Value(cols, row, "ts"), time.Local)
	if err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, fmt.Errorf("row time: %w", err))
	}
	data, err := mailview.Content(s.cfg.Root, row.Gateway, ts, a.SHA)
	if errors.Is(err, mailview.ErrNotFound) {
		return s.fail(w, r, c, http.StatusNotFound, err)
	}
	if err != nil {
		return s.fail(w, r, c, http.StatusInternalServerError, err)
	}
	h := w.Header()
	h.Set("Content-Type", mailview.SafeType(a.Type))
	h.Set("Content-Disposition", mailview.Disposition(a.Name))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(data)
	return http.StatusOK
}
