// Command acbench prints acstore's throughputs next to their references,
// measured in the same run; `make bench` runs it against the private
// MariaDB.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/acstore/acstore/internal/bench"
	"github.com/acstore/acstore/internal/mariadb"
)

func main() {
	dsn := flag.String("dsn", os.Getenv("ACSTORE_TEST_DSN"), "database of the private MariaDB")
	rows := flag.Int("rows", 1_000_000, "rows for the loader measurement")
	packets := flag.Int("packets", 1_000_000, "packets of the generated capture for aclog")
	bin := flag.String("bin", "bin", "directory of the built programs")
	syncRows := flag.Int("datasync-rows", 200_000, "rows per table shipped by the datasync measurement")
	consoleA := flag.Int("console-a-rows", 10_000_000, "A rows of the day the console's report reads")
	consoleU := flag.Int("console-u-rows", 1_000_000, "U rows of the day the console's search reads")
	only := flag.String("only", "", "run only this group (console, shards)")
	shardsMap := flag.String("shards", "", "shard map with a Spider front (scripts/shards.sh writes var/shards/shards.yaml): loads into the shards vs one server, reports through the front; empty: not measured")
	shardRows := flag.Int("shard-a-rows", 1_200_000, "A rows of the day the shards measurement loads and reports on")
	out := flag.String("out", "BENCH.md", "file the table is written to as well (nothing is edited by hand); empty: stdout only")
	flag.Parse()
	if *only == "console" {
		ctx := context.Background()
		db, err := mariadb.Open(ctx, *dsn)
		if err == nil {
			var rows []bench.Row
			rows, err = consoleBench(ctx, db, *consoleA, *consoleU)
			bench.Print(os.Stdout, rows)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "acbench:", err)
			os.Exit(1)
		}
		return
	}
	if *only == "shards" {
		rows, err := shardsBench(context.Background(), *dsn, *shardsMap, *shardRows)
		if err == nil {
			bench.Print(os.Stdout, rows)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "acbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*dsn, *bin, *out, *rows, *packets, *syncRows, *consoleA, *consoleU, *shardsMap, *shardRows); err != nil {
		fmt.Fprintln(os.Stderr, "acbench:", err)
		os.Exit(1)
	}
}

func run(dsn, bin, out string, n, packets, syncRows, consoleA, consoleU int, shardsMap string, shardRows int) error {
	ctx := context.Background()
	db, err := mariadb.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	var all []bench.Row
	rows, err := bench.Aclog(bin, packets)
	if err != nil {
		return fmt.Errorf("aclog: %w", err)
	}
	all = append(all, rows...)
	rows, err = bench.AclogShort(bin, packets/5, []int{1000, 10000, 100000, 1000000})
	if err != nil {
		return fmt.Errorf("aclog short sessions: %w", err)
	}
	all = append(all, rows...)
	rows, err = bench.Loader(ctx, db, n)
	if err != nil {
		return fmt.Errorf("loader: %w", err)
	}
	all = append(all, rows...)
	rows, err = bench.Codecs(n / 4)
	if err != nil {
		return fmt.Errorf("codecs: %w", err)
	}
	all = append(all, rows...)
	rows, err = bench.Midtable(ctx, db, 0, nil)
	if err != nil {
		return fmt.Errorf("midtable: %w", err)
	}
	all = append(all, rows...)
	rows, err = bench.Datasync(ctx, syncRows)
	if err != nil {
		return fmt.Errorf("datasync: %w", err)
	}
	all = append(all, rows...)
	rows, err = consoleBench(ctx, db, consoleA, consoleU)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	all = append(all, rows...)
	if shardsMap != "" {
		rows, err = shardsBench(ctx, dsn, shardsMap, shardRows)
		if err != nil {
			return fmt.Errorf("shards: %w", err)
		}
		all = append(all, rows...)
	}
	bench.Print(os.Stdout, all)
	if out == "" {
		return nil
	}
	var version string
	db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version)
	return bench.WriteMarkdown(out, all, bench.Machine("MariaDB "+version), "acbench "+strings.Join(os.Args[1:], " "))
}
