// Package shard holds head office's shard map: which MariaDB server (shard)
// holds the rows of which gateway on which day. Gateways are assigned by
// ranges of their id, exactly as the Spider front's RANGE COLUMNS(gw)
// partitioning assigns them, and the assignment is versioned by day, so a
// shard added later takes only days from its version on: no old row moves.
// Without a map (or with one shard) everything is on one server, as before.
package shard

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/acstore/acstore/internal/schema"
)

// Range gives the gateways below Below (all the rest when Below is empty,
// Spider's MAXVALUE) that are not in an earlier range to Shard.
type Range struct {
	Shard string `yaml:"shard"`
	Below string `yaml:"below,omitempty"`
}

// Version is the assignment in force from day From (YYYYMMDD) on.
type Version struct {
	From   string  `yaml:"from"`
	Ranges []Range `yaml:"ranges"`
}

// Map is the shard map. Days before the first version, and every day when
// there is none, are on the Default shard.
type Map struct {
	// Shards names each shard's DSN.
	Shards map[string]string `yaml:"shards"`
	// Default holds the config tables and the days no version covers (the
	// days from before sharding).
	Default string `yaml:"default"`
	// Front is the DSN of the MariaDB with the Spider engine whose per-day
	// tables span the shards; empty: no front.
	Front    string    `yaml:"front,omitempty"`
	Versions []Version `yaml:"versions,omitempty"`
}

// Single is the map of one server: today's head office.
func Single(dsn string) *Map {
	return &Map{Shards: map[string]string{"main": dsn}, Default: "main"}
}

// Load reads a map from a YAML file and validates it.
func Load(path string) (*Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("shard map: %w", err)
	}
	var m Map
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("shard map %s: %w", path, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("shard map %s: %w", path, err)
	}
	return &m, nil
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// Validate checks the map: known shard names, versions in day order, each
// version's bounds valid gateway ids in increasing order and its last range
// open (MAXVALUE), so that no gateway is left without a shard.
func (m *Map) Validate() error {
	if len(m.Shards) == 0 {
		return errors.New("no shards")
	}
	for name, dsn := range m.Shards {
		if !nameRE.MatchString(name) {
			return fmt.Errorf("shard name %q: use lower-case letters, digits and _ (starting with a letter)", name)
		}
		if dsn == "" {
			return fmt.Errorf("shard %s: no DSN", name)
		}
	}
	if m.Default == "" && len(m.Shards) == 1 {
		for name := range m.Shards {
			m.Default = name
		}
	}
	if _, ok := m.Shards[m.Default]; !ok {
		return fmt.Errorf("default shard %q is not one of the shards", m.Default)
	}
	prev := ""
	for i := range m.Versions {
		v := &m.Versions[i]
		if _, err := time.Parse(schema.DayLayout, v.From); err != nil {
			return fmt.Errorf("version %d: from %q is not a day (YYYYMMDD)", i+1, v.From)
		}
		if v.From <= prev {
			return fmt.Errorf("version %d: from %s is not after the version before it (%s)", i+1, v.From, prev)
		}
		prev = v.From
		if len(v.Ranges) == 0 {
			return fmt.Errorf("version %s: no ranges", v.From)
		}
		below := ""
		for j := range v.Ranges {
			r := &v.Ranges[j]
			if _, ok := m.Shards[r.Shard]; !ok {
				return fmt.Errorf("version %s: range %d names unknown shard %q", v.From, j+1, r.Shard)
			}
			last := j == len(v.Ranges)-1
			if last != (r.Below == "") {
				return fmt.Errorf("version %s: every range but the last needs below: (the last takes all the rest)", v.From)
			}
			if last {
				break
			}
			b := Normalize(r.Below)
			if !validBound(b) {
				return fmt.Errorf("version %s: below %q is not a gateway id (8 hex digits)", v.From, r.Below)
			}
			if b <= below {
				return fmt.Errorf("version %s: below %s is not above the range before it", v.From, r.Below)
			}
			r.Below, below = b, b
		}
	}
	return nil
}

func validBound(s string) bool {
	if len(s) != 8 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Normalize returns a gateway id as the partitioning compares it. The gw
// column is CHAR(8) CHARACTER SET ascii, collation ascii_general_ci: it
// compares letters without case, and for hex digits that order is the
// byte order of the upper-case string (digits sort before letters in both).
func Normalize(gw string) string { return strings.ToUpper(gw) }

// Sharded reports whether the map names more than one shard.
func (m *Map) Sharded() bool { return len(m.Shards) > 1 }

// Names returns the shard names, sorted.
func (m *Map) Names() []string {
	names := make([]string, 0, len(m.Shards))
	for n := range m.Shards {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Version returns the ranges in force on day (YYYYMMDD); a day before every
// version has one range, the default shard's.
func (m *Map) Version(day string) []Range {
	var cur []Range
	for _, v := range m.Versions {
		if v.From <= day {
			cur = v.Ranges
		}
	}
	if cur == nil {
		return []Range{{Shard: m.Default}}
	}
	return cur
}

// For returns the shard that holds gw's rows of day (YYYYMMDD).
func (m *Map) For(gw, day string) string {
	g := Normalize(gw)
	rs := m.Version(day)
	for _, r := range rs {
		if r.Below == "" || g < r.Below {
			return r.Shard
		}
	}
	return rs[len(rs)-1].Shard
}

// ShardsOf returns the shards that hold rows of day, sorted.
func (m *Map) ShardsOf(day string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range m.Version(day) {
		if !seen[r.Shard] {
			seen[r.Shard] = true
			out = append(out, r.Shard)
		}
	}
	sort.Strings(out)
	return out
}
