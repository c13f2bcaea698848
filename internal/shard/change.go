package shard

import (
	"fmt"
	"reflect"
)

// CheckChange tells whether next may replace cur in a running program on
// day today (YYYYMMDD). Rows already loaded stay where cur put them, so
// next must assign every day up to today as cur does: the same default
// shard (it also holds the config tables) and the same versions from
// today back; a new version must start after today. Shards may be added
// and DSNs changed (a shard moved to another server).
func CheckChange(cur, next *Map, today string) error {
	if err := next.Validate(); err != nil {
		return err
	}
	if next.Default != cur.Default {
		return fmt.Errorf("default shard %s would become %s: the default holds the config tables and the days before the first version, it cannot change", cur.Default, next.Default)
	}
	a, b := inForce(cur, today), inForce(next, today)
	if !reflect.DeepEqual(a, b) {
		return fmt.Errorf("the versions in force on %s or before differ from the map in use (%s, want %s): rows already loaded would be looked for on other shards; add a version from a later day instead",
			today, versionsText(b), versionsText(a))
	}
	return nil
}

// inForce returns m's versions that start on today or before.
func inForce(m *Map, today string) []Version {
	var out []Version
	for _, v := range m.Versions {
		if v.From <= today {
			out = append(out, v)
		}
	}
	return out
}

func versionsText(vs []Version) string {
	if len(vs) == 0 {
		return "no version"
	}
	s := ""
	for i, v := range vs {
		if i > 0 {
			s += "; "
		}
		s += "from " + v.From + ":"
		for _, r := range v.Ranges {
			if r.Below != "" {
				s += fmt.Sprintf(" %s<%s", r.Shard, r.Below)
			} else {
				s += " " + r.Shard
			}
		}
	}
	return s
}
