package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// workerPairs is how many alternating pairs of runs of -workers 2 and
// -workers 1 the speed-up is the median of.
const workerPairs = 9

// shortCapture writes a pcapgen -short capture and returns its stats.
func shortCapture(bin, path string, sessions int, rate float64, dur time.Duration) (packets int, err error) {
	out, err := exec.Command(filepath.Join(bin, "pcapgen"), "-short", fmt.Sprint(sessions), "-rate", fmt.Sprint(rate),
		"-duration", dur.String(), "-o", path).Output()
	if err != nil {
		return 0, fmt.Errorf("pcapgen -short: %w", err)
	}
	var st struct{ Packets int }
	if err := json.Unmarshal(out, &st); err != nil {
		return 0, fmt.Errorf("pcapgen output: %w", err)
	}
	return st.Packets, nil
}

// aclogRun runs aclog -r on capture with workers engines into the data
// root root, which must not exist yet, and returns its time, its CPU time
// (user and system) and its peak RSS in bytes.
func aclogRun(bin, root, capture string, workers int) (took, cpu time.Duration, rss int64, err error) {
	cmd := exec.Command(filepath.Join(bin, "aclog"), "-r", capture, "-data", root, "-gateway", "BE0C4A11",
		"-log-level", "warn", "-stats-interval", "0", "-workers", fmt.Sprint(workers))
	// One thread per worker plus one for the loop and the lanes' output,
	// but never more threads than cores: aclog's own default
	// (GOMAXPROCS = the number of CPUs) is what runs on an appliance.
	cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", min(workers+1, runtime.NumCPU())))
	took, err = timed(cmd)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("aclog -workers %d: %w", workers, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10
	}
	return took, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rss, nil
}

// AclogShort times aclog on short sessions shaped like web and DNS
// browsing (pcapgen -short: 8-packet HTTP sessions and 2-packet DNS
// exchanges, clients over a /14), at 100 and at 10,000 sessions per second
// of capture time, with one and two workers, next to tshark on the same
// file; then the cost per packet and the peak RSS with more and more
// sessions open at once (open is sessions per second x how long each
// lasts; DNS sessions also wait out the 60 s UDP idle timeout).
func AclogShort(bin string, sessions int, open []int) ([]Row, error) {
	dir, err := os.MkdirTemp("", "acbench-short-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var rows []Row
	for _, rate := range []float64{100, 10000} {
		r, err := shortRate(bin, dir, sessions, rate)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	for _, n := range open {
		row, err := openSessions(bin, dir, n, open[0], len(rows) > 0)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// shortRate is AclogShort at rate sessions per second: aclog with two
// workers and one, then tshark; the rows per packet, then per session.
func shortRate(bin, dir string, sessions int, rate float64) ([]Row, error) {
	capture := filepath.Join(dir, "short.pcap")
	pkts, err := shortCapture(bin, capture, sessions, rate, 50*time.Millisecond)
	if err != nil {
		return nil, err
	}
	note := fmt.Sprintf("%d sessions, %d packets", sessions, pkts)
	name := func(w int) string { return fmt.Sprintf("aclog -r short sessions, %.0f/s, -workers %d", rate, w) }
	ref := fmt.Sprintf("tshark -T fields on short sessions, %.0f/s (reference)", rate)
	var rss int64
	cpu := map[int][]time.Duration{}
	// Each run writes a data root of its own, all removed after the
	// pairs. On ext4 without a journal (this machine's root) allocating an
	// inode steps, one by one, over every inode freed in the last minute:
	// a run right after the removal of the runs before it paid up to 70 ms
	// of kernel time for its 80 files, more with every run.
	roots := filepath.Join(dir, "roots")
	runs := 0
	trial := func(w int) Trial {
		return func() (time.Duration, error) {
			runs++
			d, c, r, err := aclogRun(bin, filepath.Join(roots, fmt.Sprint(runs)), capture, w)
			rss = max(rss, r)
			cpu[w] = append(cpu[w], c)
			return d, err
		}
	}
	// 2 workers and 1 side by side, alternating: the ratio is the
	// speed-up, run by run. The CPU time says what each costs
	// whatever else the machine is doing. The ratio of one pair of runs
	// moves by a third on a shared machine (1.5x-2.0x, same binaries,
	// same minute), so it is the median of more pairs than Runs.
	both, err := PairRuns(workerPairs, Row{Group: "aclog short", Name: name(2), Amount: float64(pkts), Unit: "pkts"},
		Row{Group: "aclog short", Name: name(1), Amount: float64(pkts), Unit: "pkts", Note: note}, trial(2), trial(1))
	if err := errors.Join(err, os.RemoveAll(roots)); err != nil {
		return nil, err
	}
	perCPU := func(w int) string {
		c := Median(cpu[w])
		return fmt.Sprintf("CPU %.2f s, %.0f pkts per CPU-second", c.Seconds(), float64(pkts)/c.Seconds())
	}
	two, one := both[0], both[1]
	two.Note = "2 workers vs 1; " + perCPU(2)
	one.Note += "; " + perCPU(1)
	tsh, err := Repeat(Row{Group: "aclog short", Name: ref, Amount: float64(pkts), Unit: "pkts"}, tsharkTrial(capture))
	if err != nil {
		return nil, err
	}
	one.Reference = ref
	return []Row{two, one, tsh,
		Row{Group: "aclog short", Name: name(1) + ", sessions", Amount: float64(sessions), Unit: "sessions", Took: one.Took,
			Note: fmt.Sprintf("peak RSS %d MB", rss>>20)},
		Row{Group: "aclog short", Name: name(2) + ", sessions", Amount: float64(sessions), Unit: "sessions", Took: two.Took}}, nil
}

// tsharkTrial runs tshark -T fields on capture.
func tsharkTrial(capture string) Trial {
	return func() (time.Duration, error) {
		cmd := exec.Command("tshark", "-r", capture, "-T", "fields", "-e", "frame.len", "-e", "ip.src", "-e", "ip.dst",
			"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "http.request.method", "-e", "http.host", "-e", "http.request.uri",
			"-e", "dns.qry.name")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		return timed(cmd)
	}
}

// openSessions is AclogShort with n sessions open at once; its row refers
// to the first such row (first sessions open) when not the first itself
// and rows came before it (haveRows).
func openSessions(bin, dir string, n, first int, haveRows bool) (Row, error) {
	// n sessions open at once: 10,000 start per second and each lasts
	// n/10,000 s; twice n sessions in all, at least 200,000 so that
	// start-up does not count in the cost per packet.
	capture := filepath.Join(dir, "open.pcap")
	dur := time.Duration(float64(n) / 10000 * float64(time.Second))
	pkts, err := shortCapture(bin, capture, max(2*n, 200000), 10000, dur)
	if err != nil {
		return Row{}, err
	}
	var rss int64
	row, err := Repeat(Row{Group: "aclog open sessions", Name: fmt.Sprintf("aclog -r, %d sessions open, -workers 1", n),
		Amount: float64(pkts), Unit: "pkts"}, func() (time.Duration, error) {
		root := filepath.Join(dir, "data")
		if err := os.RemoveAll(root); err != nil {
			return 0, err
		}
		d, _, r, err := aclogRun(bin, root, capture, 1)
		rss = max(rss, r)
		return d, err
	})
	if err != nil {
		return Row{}, err
	}
	row.Note = fmt.Sprintf("%.0f ns/packet, peak RSS %d MB (%d bytes per open session)",
		float64(row.Took.Nanoseconds())/float64(pkts), rss>>20, rss/int64(n))
	if haveRows && n != first {
		row.Reference = fmt.Sprintf("aclog -r, %d sessions open, -workers 1", first)
	}
	os.Remove(capture)
	return row, nil
}
