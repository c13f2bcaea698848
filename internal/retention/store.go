package retention

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/schema"
)

// Store holds what a day has besides its files: the day tables and the
// rollups in the database.
type Store interface {
	// Days lists the days (YYYYMMDD) the store holds something of.
	Days(ctx context.Context) ([]string, error)
	// DropDay removes everything of day.
	DropDay(ctx context.Context, day string) error
}

// DBStore is the day tables (A20261121 ...) and rollup tables
// (MidFGA1H20261121 ...) of a database.
type DBStore struct {
	DB *sql.DB
	// Dropped, when set, is called with each table dropped, so a caller
	// caching which tables exist can forget it.
	Dropped func(table string)
}

// Days lists the days of the database's day and rollup tables.
func (s DBStore) Days(ctx context.Context) ([]string, error) {
	tables, err := mariadb.Tables(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	var days []string
	for _, t := range tables {
		if day, ok := TableDay(t); ok && !seen[day] {
			seen[day] = true
			days = append(days, day)
		}
	}
	sort.Strings(days)
	return days, nil
}

// DropDay drops every day and rollup table of day.
func (s DBStore) DropDay(ctx context.Context, day string) error {
	tables, err := mariadb.Tables(ctx, s.DB)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if d, ok := TableDay(t); !ok || d != day {
			continue
		}
		if _, err := s.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+mariadb.Quote(t)); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
		if s.Dropped != nil {
			s.Dropped(t)
		}
	}
	return nil
}

// TableDay returns the YYYYMMDD a day or rollup table belongs to: its last
// eight characters, when the name is one of acstore's.
func TableDay(name string) (string, bool) {
	if len(name) < 9 {
		return "", false
	}
	day := name[len(name)-8:]
	if _, err := time.Parse(schema.DayLayout, day); err != nil {
		return "", false
	}
	prefix := name[:len(name)-8]
	if len(prefix) == 1 {
		_, ok := schema.ByLetter(prefix[0])
		return day, ok
	}
	return day, strings.HasPrefix(prefix, "Mid")
}
