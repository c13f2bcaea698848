package web

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/console/account"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
)

// formLayouts are the forms a time field accepts (datetime-local sends
// the first two).
var formLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseTime(s string) (time.Time, error) {
	for _, l := range formLayouts {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time like 2026-11-21T13:00", s)
}

const formTime = "2006-01-02T15:04:05"

// latestDay returns the newest day that has a day table, or today.
func latestDay(ctx context.Context, db *sql.DB) time.Time {
	today := time.Now()
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.Local)
	tables, err := mariadb.Tables(ctx, db)
	if err != nil {
		return today
	}
	var best time.Time
	for _, n := range tables {
		if _, day, err := schema.ParseDayTable(n, time.Local); err == nil && day.After(best) {
			best = day
		}
	}
	if best.IsZero() {
		return today
	}
	return best
}

// timeRange reads from and to, defaulting to the newest day with data.
func timeRange(ctx context.Context, db *sql.DB, q url.Values) (time.Time, time.Time, map[string]string, error) {
	form := map[string]string{}
	var from, to time.Time
	var err error
	if v := q.Get("from"); v != "" {
		if from, err = parseTime(v); err != nil {
			return from, to, form, fmt.Errorf("from: %w", err)
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = parseTime(v); err != nil {
			return from, to, form, fmt.Errorf("to: %w", err)
		}
	}
	if from.IsZero() || to.IsZero() {
		day := latestDay(ctx, db)
		if from.IsZero() {
			from = day
		}
		if to.IsZero() {
			to = from.AddDate(0, 0, 1)
		}
	}
	form["from"], form["to"] = from.Format(formTime), to.Format(formTime)
	return from, to, form, nil
}

// checkScope refuses a gateway or group filter outside the user's scope.
func checkScope(u *account.User, gw, group string) error {
	if gw != "" && !u.SeesGateway(gw) {
		return fmt.Errorf("gateway %s is not in your scope", gw)
	}
	if group != "" && !u.SeesGroup(group) {
		return fmt.Errorf("group %q is not in your scope", group)
	}
	return nil
}

func scopeText(u *account.User) string {
	gws, groups := u.Scope()
	var parts []string
	if len(gws) > 0 {
		parts = append(parts, "gateways "+strings.Join(gws, ", "))
	}
	if len(groups) > 0 {
		parts = append(parts, "groups "+strings.Join(groups, ", "))
	}
	return strings.Join(parts, "; ")
}
