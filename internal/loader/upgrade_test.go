package loader_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testdb"
)

// layout1 is table t as an older loader created it: the columns of its
// first layout (schema.Layout), so the types of the current ones.
func layout1(t *schema.Table) *schema.Table {
	old := *t
	old.Columns = nil
	for _, c := range t.Columns {
		if c.Name == schema.GatewayColumn || slices.Contains(t.Past[0].Columns, c.Name) {
			old.Columns = append(old.Columns, c)
		}
	}
	return &old
}

// M rows of layout 1, as an older aclog wrote them: len was the message
// size, file_path the attachment list, parse_sign 0 parsed, 1 partly,
// 2 malformed.
func oldMailRow(id uint64, command, size, files, sign string) string {
	f := []string{strconv.FormatUint(id, 10), "2026-11-21 13:00:01.000000", "10.0.0.1", "40000", "10.0.0.25", "25", "alice", `\N`,
		"smtp", command, "send", size, "64", "mx", `\N`, "a@x", "b@x", "a@x", "b@x", `\N`, `\N`, "subject", `\N`, "<id@x>", `\N`,
		"body", "0", files, "0", sign}
	return strings.Join(f, "\t") + "\n"
}

func queryCount(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n.Int64
}

// TestUpgradeLayout1: a day table an older loader created, holding rows
// with the old meanings, and a load_file an older aclog wrote, are both
// upgraded when loader touches the day: the table is swapped for one with
// the current columns, every old row converted (M: message size to
// msg_size, attachment list to attachments, parse_sign to the seed's
// meaning with the detail in parse_status; U: one request per row), and
// nothing is lost or doubled.
func TestUpgradeLayout1(t *testing.T) {
	db, _ := testdb.New(t)
	ctx := context.Background()
	root := t.TempDir()
	m, _ := schema.ByLetter('M')
	u, _ := schema.ByLetter('U')
	window := logfile.Name{Window: t0, Gateway: gw, Table: 'M'}

	// The day table as it was: two old rows already loaded.
	for _, tb := range []*schema.Table{m, u} {
		if err := mariadb.CreateTable(ctx, db, layout1(tb), schema.DayTable(tb.Letter, t0)); err != nil {
			t.Fatal(err)
		}
	}
	old := oldMailRow(logfile.MakeID(window, 0), "DATA", "1234", `abc 10 image/png x.png`, "2") +
		oldMailRow(logfile.MakeID(window, 1), "STARTTLS", "0", `\N`, "1")
	if _, err := mariadb.Load(ctx, db, "M20261121", m.Past[0].Columns, gw, strings.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	oldU := strings.Join([]string{strconv.FormatUint(logfile.MakeID(logfile.Name{Window: t0, Gateway: gw, Table: 'U'}, 0), 10), "2026-11-21 13:00:01.000000",
		"10.0.0.1", "40000", "10.0.0.80", "80", "alice", `\N`, "web", "GET", "h", "/", "200", "text/html", `\N`, `\N`, "0", "10"}, "\t") + "\n"
	if _, err := mariadb.Load(ctx, db, "U20261121", u.Past[0].Columns, gw, strings.NewReader(oldU)); err != nil {
		t.Fatal(err)
	}
	// A load_file of layout 1 still waiting (an older aclog wrote it).
	dir := filepath.Join(root, "load")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	waiting := oldMailRow(logfile.MakeID(window, 2), "DATA", "99", `\N`, "0") + oldMailRow(logfile.MakeID(window, 3), "DATA", "77", `\N`, "1")
	name := logfile.LoadName{Sync: window, FirstID: logfile.MakeID(window, 2)}.String()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(waiting), 0o644); err != nil {
		t.Fatal(err)
	}
	// And rows of today's aclog for the same day.
	writeRows(t, root, "MU", 5, 5, t0.Add(10*time.Minute), 1, false) // a later window: ids do not collide

	l := newLoader(t, db, loader.Config{Root: root})
	runOnce(t, l)

	for _, tb := range []*schema.Table{m, u} {
		name := schema.DayTable(tb.Letter, t0)
		var cols []string
		rows, err := db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			rows.Scan(&c)
			cols = append(cols, c)
		}
		rows.Close()
		if !slices.Equal(cols, tb.AllColumns()) {
			t.Errorf("%s columns %v, want %v", name, cols, tb.AllColumns())
		}
	}
	got := map[string]string{}
	rows, err := db.QueryContext(ctx, "SELECT command, msg_size, COALESCE(attachments, 'NULL'), COALESCE(len, 'NULL'), "+
		"COALESCE(file_path, 'NULL'), parse_sign, parse_status, sport, source_ip FROM M20261121 WHERE mail_subject = 'subject'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var cmd, size, att, ln, fp, sign, status, sport, sip string
		if err := rows.Scan(&cmd, &size, &att, &ln, &fp, &sign, &status, &sport, &sip); err != nil {
			t.Fatal(err)
		}
		got[cmd+" "+size] = strings.Join([]string{att, ln, fp, sign, status, sport, sip}, "|")
	}
	rows.Close()
	want := map[string]string{
		"DATA 1234":  "abc 10 image/png x.png|NULL|NULL|0|malformed|40000|10.0.0.1",
		"STARTTLS 0": "NULL|NULL|NULL|0|encrypted|40000|10.0.0.1",
		"DATA 99":    "NULL|NULL|NULL|1|ok|40000|10.0.0.1",
		"DATA 77":    "NULL|NULL|NULL|1|partial|40000|10.0.0.1",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("old M row %s: %s, want %s", k, got[k], w)
		}
	}
	if n := queryCount(t, db, "SELECT COUNT(*) FROM M20261121"); n != 4+5 {
		t.Errorf("M20261121 has %d rows, want 9", n)
	}
	if n := queryCount(t, db, "SELECT SUM(repeat_count) FROM U20261121 WHERE uri = '/' AND repeat_count = 1"); n != 1 {
		t.Errorf("the old U row counts %d requests, want 1", n)
	}
	if n := queryCount(t, db, "SELECT COUNT(*) FROM U20261121"); n != 1+5 {
		t.Errorf("U20261121 has %d rows, want 6", n)
	}
	var leftover int
	db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '%\\_upgrade' OR TABLE_NAME LIKE '%\\_pre'").Scan(&leftover)
	if leftover != 0 {
		t.Errorf("%d upgrade tables left behind", leftover)
	}
}
