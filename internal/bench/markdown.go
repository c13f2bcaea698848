package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine describes where the bench ran: cores, CPU model, load, Go, and
// extra (the server's version).
func Machine(extra string) string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load average " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("%d cores (%s)%s, %s, %s", runtime.NumCPU(), model, load, runtime.Version(), extra)
}

// WriteMarkdown writes the table as `make bench` printed it into path
// (BENCH.md), with when and where it ran. The file is the bench's output,
// never edited by hand: the README links it.
func WriteMarkdown(path string, rows []Row, machine, command string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# make bench\n\nWritten by `make bench` (internal/bench/acbench) on %s; do not edit by hand.\n\nCommand: `%s`.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), command)
	fmt.Fprintf(&b, "Machine: %s.\n\n", machine)
	fmt.Fprintf(&b, "Each ratio marked \"median of %d alternating runs\" is the median of the rate ratios of %d runs, "+
		"program and reference alternating which goes first, with their min and max; its seconds are the medians. "+
		"Rows without it ran once. Every measurement checks its own output (rows loaded = rows generated, "+
		"rollup sums = raw sums) and fails the bench instead of printing a rate for a wrong answer. "+
		"On a shared machine the spread is wide: read the ranges, not only the medians.\n\n", Runs, Runs)
	b.WriteString("```\n")
	Print(&b, rows)
	b.WriteString("```\n")
	return os.WriteFile(path, b.Bytes(), 0o644)
}
