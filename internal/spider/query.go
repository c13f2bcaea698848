package spider

import (
	"context"
	"sort"
	"sync"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/shard"
)

// Reading is one read through the front while some shards may be down: the
// shards that answered a ping when it began, and the shards of the days
// read that did not. A query that names its tables through From reads only
// the partitions of the shards that are up, so a down shard does not fail
// it (Spider would, after its connect timeout): the answer covers the
// others and Missing names the rest. It is safe for concurrent use.
type Reading struct {
	m       *shard.Map
	up      map[string]bool
	mu      sync.Mutex
	lacking map[string]bool
}

// Reading pings the shards (each within ConnectTimeout) and begins a read.
func (f *Front) Reading(ctx context.Context) *Reading {
	return &Reading{m: f.set.Map(), up: f.Up(ctx), lacking: map[string]bool{}}
}

// Up reports whether shard name answered the ping.
func (r *Reading) Up(name string) bool { return r.up[name] }

// From returns what a query names table by in its FROM: the table, or only
// its partitions on the shards that are up, or an empty table of its
// columns when none of its day's shards is. Config tables live on the
// default shard and are named as they are.
func (r *Reading) From(table string) string {
	day, partitioned := tableDay(table)
	if !partitioned {
		return mariadb.Quote(table)
	}
	parts, miss := Partitions(r.m, day, r.up)
	if len(miss) > 0 {
		r.mu.Lock()
		for _, s := range miss {
			r.lacking[s] = true
		}
		r.mu.Unlock()
	}
	if len(miss) == 0 {
		return mariadb.Quote(table)
	}
	if len(parts) == 0 {
		return "(SELECT * FROM " + mariadb.Quote(table) + " WHERE FALSE) AS `none`"
	}
	list := ""
	for i, p := range parts {
		if i > 0 {
			list += ", "
		}
		list += mariadb.Quote(p)
	}
	return mariadb.Quote(table) + " PARTITION (" + list + ")"
}

// Missing returns the shards, sorted, that tables named through From lacked.
func (r *Reading) Missing() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for s := range r.lacking {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Answer answers q through the front, from the shards that answer; missing
// names the shards (of the days asked) it lacks.
func (f *Front) Answer(ctx context.Context, q rollup.Query) (pl rollup.Plan, rows []rollup.Row, missing []string, err error) {
	fdb, err := f.DB(ctx)
	if err != nil {
		return pl, nil, nil, err
	}
	rd := f.Reading(ctx)
	q.FromSQL = rd.From
	pl, rows, err = rollup.Answer(ctx, fdb, q)
	return pl, rows, rd.Missing(), err
}

// ShardOf returns the shard that holds gw's rows of day (YYYYMMDD).
func (r *Reading) ShardOf(gw, day string) string { return r.m.For(gw, day) }
