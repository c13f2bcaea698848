package retention

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
)

// Store holds what a day has besides its files: its tables in a
// database, and whatever state a program keeps of it.
type Store interface {
	// Days lists the days (YYYYMMDD) the store holds something of.
	Days(ctx context.Context) ([]string, error)
	// DropDay removes everything of day.
	DropDay(ctx context.Context, day string) error
}

// Stores is several stores as one: the days any of them holds, dropped
// from each in turn.
type Stores []Store

// Days lists the days any store holds something of.
func (ss Stores) Days(ctx context.Context) ([]string, error) {
	seen := make(map[string]bool)
	var errs []error
	for _, s := range ss {
		days, err := s.Days(ctx)
		errs = append(errs, err)
		for _, d := range days {
			seen[d] = true
		}
	}
	days := slices.Sorted(maps.Keys(seen))
	return days, errors.Join(errs...)
}

// DropDay drops day from every store, in order; it stops at the first
// that fails, so the next pass finds the day again.
func (ss Stores) DropDay(ctx context.Context, day string) error {
	for _, s := range ss {
		if err := s.DropDay(ctx, day); err != nil {
			return err
		}
	}
	return nil
}

// DBStore is the tables of a database that belong to a day: by default
// its day tables (A20261121 ...), not the rollup tables (MidFGA1H20261121
// ...), which midtable drops itself.
type DBStore struct {
	DB *sql.DB
	// Match picks the tables the store holds and says their day; nil:
	// DayTable.
	Match func(table string) (day string, ok bool)
	// Dropped, when set, is called with each table dropped, so a caller
	// caching which tables exist can forget it.
	Dropped func(table string)
}

func (s DBStore) match(t string) (string, bool) {
	if s.Match != nil {
		return s.Match(t)
	}
	return DayTable(t)
}

// Days lists the days of the database's tables the store holds.
func (s DBStore) Days(ctx context.Context) ([]string, error) {
	tables, err := mariadb.Tables(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	var days []string
	for _, t := range tables {
		if day, ok := s.match(t); ok && !seen[day] {
			seen[day] = true
			days = append(days, day)
		}
	}
	sort.Strings(days)
	return days, nil
}

// DropDay drops every table of day the store holds.
func (s DBStore) DropDay(ctx context.Context, day string) error {
	tables, err := s.tablesOf(ctx, day)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if _, err := s.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(t)); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
		if s.Dropped != nil {
			s.Dropped(t)
		}
	}
	return nil
}

// DeleteGateway removes one gateway's rows from every table of day the
// store holds (head office's per-gateway quota): the tables stay, with the
// other gateways' rows.
func (s DBStore) DeleteGateway(ctx context.Context, gw, day string) error {
	tables, err := s.tablesOf(ctx, day)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if _, err := s.DB.ExecContext(ctx, "DELETE FROM "+mariadb.Quote(t)+" WHERE gw = ?", gw); err != nil {
			return fmt.Errorf("remove gateway %s's rows of %s: %w", gw, t, err)
		}
	}
	return nil
}

// tablesOf lists the tables of day the store holds.
func (s DBStore) tablesOf(ctx context.Context, day string) ([]string, error) {
	tables, err := mariadb.Tables(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tables {
		if d, ok := s.match(t); ok && d == day {
			out = append(out, t)
		}
	}
	return out, nil
}

// DayTable returns the YYYYMMDD a day table (A20261121 ...) belongs to.
func DayTable(name string) (string, bool) {
	if len(name) != 9 {
		return "", false
	}
	if _, ok := schema.ByLetter(name[0]); !ok {
		return "", false
	}
	day := name[1:]
	if _, err := time.Parse(schema.DayLayout, day); err != nil {
		return "", false
	}
	return day, true
}
