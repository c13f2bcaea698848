// Command acbench prints acstore's throughputs next to their references,
// measured in the same run; `make bench` runs it against the private
// MariaDB.
//
// The measurements come in groups (aclog, loader, codec, midtable,
// datasync, console, live, shards). BENCH.md holds one section per group with
// when, where and by which command it was measured, so that -only can
// measure one group again on a quiet machine without the hour the whole
// bench takes, and without leaving a stale figure unmarked.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/acstore/acstore/internal/bench"
	"github.com/acstore/acstore/internal/mariadb"
)

// config is what the groups are measured with.
type config struct {
	dsn, bin           string
	rows, packets      int
	syncRows           int
	consoleA, consoleU int
	shardsMap          string
	shardRows          int
	db                 *sql.DB
	shortOpen          []int
}

// group is one section of BENCH.md.
type group struct {
	name string
	run  func(ctx context.Context, c *config) ([]bench.Row, error)
}

var groups = []group{
	{"aclog", func(_ context.Context, c *config) ([]bench.Row, error) {
		rows, err := bench.Aclog(c.bin, c.packets)
		if err != nil {
			return nil, err
		}
		short, err := bench.AclogShort(c.bin, c.packets/5, c.shortOpen)
		return append(rows, short...), err
	}},
	{"loader", func(ctx context.Context, c *config) ([]bench.Row, error) { return bench.Loader(ctx, c.db, c.rows) }},
	{"codec", func(_ context.Context, c *config) ([]bench.Row, error) { return bench.Codecs(c.rows / 4) }},
	{"midtable", func(ctx context.Context, c *config) ([]bench.Row, error) { return bench.Midtable(ctx, c.db, 0, nil) }},
	{"datasync", func(ctx context.Context, c *config) ([]bench.Row, error) { return bench.Datasync(ctx, c.syncRows) }},
	{"console", func(ctx context.Context, c *config) ([]bench.Row, error) {
		return consoleBench(ctx, c.db, c.consoleA, c.consoleU)
	}},
	{"live", func(_ context.Context, c *config) ([]bench.Row, error) {
		rows, err := bench.Live(c.bin, c.packets/5)
		if errors.Is(err, bench.ErrNoLive) && os.Getenv("CI") != "true" {
			fmt.Fprintln(os.Stderr, "acbench: live:", err)
			return nil, errSkipped
		}
		return rows, err
	}},
	{"shards", func(ctx context.Context, c *config) ([]bench.Row, error) {
		if c.shardsMap == "" {
			return nil, errSkipped
		}
		return shardsBench(ctx, c.dsn, c.shardsMap, c.shardRows)
	}},
}

// errSkipped says a group was not measured because what it needs was not
// given (the shards group without -shards).
var errSkipped = errors.New("not measured")

func main() {
	var c config
	flag.StringVar(&c.dsn, "dsn", os.Getenv("ACSTORE_TEST_DSN"), "database of the private MariaDB")
	flag.IntVar(&c.rows, "rows", 1_000_000, "rows for the loader measurement")
	flag.IntVar(&c.packets, "packets", 1_000_000, "packets of the generated capture for aclog")
	flag.StringVar(&c.bin, "bin", "bin", "directory of the built programs")
	flag.IntVar(&c.syncRows, "datasync-rows", 200_000, "rows per table shipped by the datasync measurement")
	flag.IntVar(&c.consoleA, "console-a-rows", 10_000_000, "A rows of the day the console's report reads")
	flag.IntVar(&c.consoleU, "console-u-rows", 1_000_000, "U rows of the day the console's search reads")
	flag.StringVar(&c.shardsMap, "shards", "", "shard map with a Spider front (scripts/shards.sh writes var/shards/shards.yaml): loads into the shards vs one server, reports through the front; empty: not measured")
	flag.IntVar(&c.shardRows, "shard-a-rows", 1_200_000, "A rows of the day the shards measurement loads and reports on")
	only := flag.String("only", "", "measure only these groups, comma-separated ("+groupNames()+"); their sections of -out are replaced, the others kept")
	out := flag.String("out", "BENCH.md", "file the table is written to as well (nothing is edited by hand); empty: stdout only")
	flag.Parse()
	c.shortOpen = []int{1000, 10000, 100000, 1000000}
	if err := run(&c, *only, *out); err != nil {
		fmt.Fprintln(os.Stderr, "acbench:", err)
		os.Exit(1)
	}
}

func groupNames() string { return strings.Join(groupOrder(), ", ") }

func run(c *config, only, out string) error {
	want := map[string]bool{}
	for _, name := range strings.Split(only, ",") {
		if name = strings.TrimSpace(name); name != "" {
			want[name] = true
		}
	}
	for name := range want {
		if !slices.Contains(groupOrder(), name) {
			return fmt.Errorf("-only %s: no such group (%s)", name, groupNames())
		}
	}
	ctx := context.Background()
	db, err := mariadb.Open(ctx, c.dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	c.db = db
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return fmt.Errorf("server version: %w", err)
	}
	command := "acbench " + strings.Join(os.Args[1:], " ")
	for _, g := range groups {
		if len(want) > 0 && !want[g.name] {
			continue
		}
		rows, err := g.run(ctx, c)
		if errors.Is(err, errSkipped) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", g.name, err)
		}
		bench.Print(os.Stdout, rows)
		if out == "" {
			continue
		}
		// Written group by group: a failure later keeps what was measured.
		sec := bench.Section{Group: g.name, Rows: rows, Machine: bench.Machine("MariaDB " + version), Command: command}
		if err := bench.WriteSection(out, sec, groupOrder()); err != nil {
			return err
		}
	}
	return nil
}

func groupOrder() []string {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.name
	}
	return names
}
