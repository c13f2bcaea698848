package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/fileutil"
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

// Section is one group's measurements in BENCH.md, with when, where and
// by which command they were taken.
type Section struct {
	Group   string
	Rows    []Row
	Machine string
	Command string
}

const header = "# make bench\n"

// WriteSection writes sec into path (BENCH.md), keeping the other groups'
// sections as they were, in the order order gives. The file is the
// bench's output, never edited by hand: the README links it.
func WriteSection(path string, sec Section, order []string) error {
	sections := map[string]string{}
	if old, err := os.ReadFile(path); err == nil {
		sections = splitSections(string(old))
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\nMeasured on %s by `%s`.\n\nMachine: %s.\n\n```\n",
		sec.Group, time.Now().UTC().Format("2006-01-02 15:04 UTC"), sec.Command, sec.Machine)
	Print(&b, sec.Rows)
	b.WriteString("```\n")
	sections[sec.Group] = b.String()

	var out bytes.Buffer
	out.WriteString(header)
	fmt.Fprintf(&out, "\nWritten by `make bench` (cmd/acbench); do not edit by hand. Each section was "+
		"measured at the time it gives, on the machine it names; `acbench -only GROUP` measures one group again and "+
		"replaces its section.\n\n")
	fmt.Fprintf(&out, "Each ratio marked \"median of N alternating runs\" is the median of the rate ratios of N runs "+
		"(%d unless it says more), program and reference alternating which goes first, with their min and max; its seconds are the medians. "+
		"Rows without it ran once. Every measurement checks its own output (rows loaded = rows generated, "+
		"rollup sums = raw sums) and fails the bench instead of printing a rate for a wrong answer. "+
		"On a shared machine the spread is wide: read the ranges, not only the medians.\n", Runs)
	for _, g := range order {
		if s, ok := sections[g]; ok {
			out.WriteString("\n" + s)
		}
	}
	return fileutil.WriteFile(path, filepath.Dir(path), out.Bytes())
}

// splitSections returns the "## group" sections of a BENCH.md by group;
// text before the first is the header, written afresh.
func splitSections(doc string) map[string]string {
	out := map[string]string{}
	parts := strings.Split("\n"+doc, "\n## ")
	for _, p := range parts[1:] {
		name, _, _ := strings.Cut(p, "\n")
		out[strings.TrimSpace(name)] = strings.TrimRight("## "+p, "\n") + "\n"
	}
	return out
}
