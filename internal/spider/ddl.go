// Package spider keeps head office's Spider front in step with the shards:
// for every day table and rollup table on any shard, a table of the same
// name on the front with ENGINE=SPIDER, partitioned BY RANGE COLUMNS(gw)
// exactly as the shard map assigns that day's gateways, so that a query on
// the front reads every shard (in parallel: bgs_mode 1) and gets one
// answer. Its DDL is generated from the same catalogue as the shards'
// tables (never CREATE ... LIKE, which would copy the COMMENT naming
// another day's remote tables).
package spider

import (
	"fmt"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/rollup"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/shard"
)

// Timeouts on the front's connections to the shards: a shard that is down
// fails a query in seconds, a hung one in ReadTimeout, not Spider's default
// 600 s.
const (
	ConnectTimeout = 2  // seconds
	ReadTimeout    = 30 // seconds
)

// ServerName is the front's CREATE SERVER name of a shard.
func ServerName(shardName string) string { return "acstore_" + shardName }

// PartitionName is the name of the front's partition of range i of a day,
// which says the shard: p0_s0, p1_s1 ...
func PartitionName(i int, shardName string) string { return fmt.Sprintf("p%d_%s", i, shardName) }

// localDDL returns the shards' CREATE TABLE of name (a day table, a rollup
// table or a config table), and whether acstore knows the name.
func localDDL(name string) (ddl string, partitioned bool, ok bool) {
	if t, _, err := schema.ParseDayTable(name, time.Local); err == nil {
		return t.CreateSQL(name), true, true
	}
	if r, _, _, ok := rollup.ParseTable(name); ok {
		return r.CreateSQL(name), true, true
	}
	for _, t := range schema.ConfigTables() {
		if t.Name == name {
			return t.CreateSQL(name), false, true
		}
	}
	return "", false, false
}

// tableParams are the Spider table parameters every front table gets.
func tableParams(name string) string {
	return fmt.Sprintf(`wrapper "mysql", table "%s", bgs_mode "1", connect_timeout "%d", net_read_timeout "%d", net_write_timeout "%d"`,
		name, ConnectTimeout, ReadTimeout, ReadTimeout)
}

// DDL returns the front's CREATE TABLE for name on day (YYYYMMDD; empty for
// a config table, which lives on the default shard), from the columns and
// keys of the shards' table and the ranges of the day's shard map.
func DDL(m *shard.Map, name, day string) (string, error) {
	local, partitioned, ok := localDDL(name)
	if !ok {
		return "", fmt.Errorf("%s is not a table acstore knows", name)
	}
	const tail = ") ENGINE=MyISAM DEFAULT CHARSET=utf8mb4"
	body, found := strings.CutSuffix(local, tail)
	if !found {
		return "", fmt.Errorf("%s: unexpected DDL ending (want %q)", name, tail)
	}
	var b strings.Builder
	b.WriteString(body)
	b.WriteString(") ENGINE=SPIDER DEFAULT CHARSET=utf8mb4")
	if !partitioned {
		fmt.Fprintf(&b, " COMMENT='%s, srv \"%s\"'", tableParams(name), ServerName(m.Default))
		return b.String(), nil
	}
	fmt.Fprintf(&b, " COMMENT='%s'\nPARTITION BY RANGE COLUMNS(`%s`) (", tableParams(name), schema.GatewayColumn)
	for i, r := range m.Version(day) {
		if i > 0 {
			b.WriteString(",")
		}
		bound := "MAXVALUE"
		if r.Below != "" {
			bound = "'" + r.Below + "'"
		}
		fmt.Fprintf(&b, "\n  PARTITION `%s` VALUES LESS THAN (%s) COMMENT='srv \"%s\"'", PartitionName(i, r.Shard), bound, ServerName(r.Shard))
	}
	b.WriteString("\n)")
	return b.String(), nil
}

// Partitions returns the front's partitions of day whose shards are in up,
// and the shards of day that are not.
func Partitions(m *shard.Map, day string, up map[string]bool) (parts, missing []string) {
	seen := map[string]bool{}
	for i, r := range m.Version(day) {
		if up[r.Shard] {
			parts = append(parts, PartitionName(i, r.Shard))
		} else if !seen[r.Shard] {
			seen[r.Shard] = true
			missing = append(missing, r.Shard)
		}
	}
	return parts, missing
}

// tableDay returns the YYYYMMDD a day table or a rollup table belongs to:
// such a table is partitioned by its day's shard map on the front.
func tableDay(name string) (string, bool) {
	if day, ok := retention.DayTable(name); ok {
		return day, true
	}
	return rollup.TableDay(name)
}
