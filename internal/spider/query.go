package spider

import (
	"context"
	"sort"

	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/rollup"
)

// Answer answers q through the front. The shards are pinged first; the
// tables are read only in the partitions of the shards that answer, so a
// shard that is down does not fail the query: the answer covers the
// others, and missing names the shards (of the days asked) it lacks.
func (f *Front) Answer(ctx context.Context, q rollup.Query) (pl rollup.Plan, rows []rollup.Row, missing []string, err error) {
	fdb, err := f.DB(ctx)
	if err != nil {
		return pl, nil, nil, err
	}
	up := f.Up(ctx)
	lacking := map[string]bool{}
	q.FromSQL = func(table string) string {
		day, partitioned := retention.TableDay(table)
		if !partitioned {
			return mariadb.Quote(table)
		}
		parts, miss := Partitions(f.set.Map, day, up)
		for _, s := range miss {
			lacking[s] = true
		}
		if len(miss) == 0 {
			return mariadb.Quote(table)
		}
		if len(parts) == 0 {
			// No shard of the day answers: an empty table of its columns.
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
	pl, rows, err = rollup.Answer(ctx, fdb, q)
	for s := range lacking {
		missing = append(missing, s)
	}
	sort.Strings(missing)
	return pl, rows, missing, err
}
