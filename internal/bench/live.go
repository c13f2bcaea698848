package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/acstore/acstore/internal/syncbuf"
)

// ErrNoLive says the live measurement cannot run here (not root, no
// network namespaces, no tcpreplay); the error wrapping it says which.
var ErrNoLive = errors.New("live capture cannot be measured here")

// liveTrialSeconds is how long each rate is sent: several times what the
// 64 MB of ring absorbs at the rates measured, so a rate passes only if
// aclog keeps up with it, not if the ring hides that it does not.
const liveTrialSeconds = 8

// Live finds the highest rate at which tcpreplay can send a short-session
// capture (pcapgen -short, 8-packet HTTP and 2-packet DNS sessions, about
// 140 bytes a packet) into a veth pair while aclog -i captures the other
// end with no packet dropped by the kernel or the interface and every
// packet captured, at 1 and 2 workers; and tcpreplay's own top speed into
// the veth with nothing capturing, the ceiling of the method on this
// machine. tcpreplay, the kernel's receive path (veth, fanout program,
// ring copy, in the sender's softirq) and aclog share the machine's
// cores: each row's note says what each costs per packet.
func Live(bin string, sessions int) ([]Row, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: needs root (a veth pair in a network namespace)", ErrNoLive)
	}
	for _, tool := range []string{"ip", "tcpreplay"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%w: %s is not on PATH (scripts/deps.sh installs it)", ErrNoLive, tool)
		}
	}
	dir, err := os.MkdirTemp("", "acbench-live-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	capture := filepath.Join(dir, "short.pcap")
	if _, err := shortCapture(bin, capture, sessions, 10000, 50*time.Millisecond); err != nil {
		return nil, err
	}
	v, err := newVeth()
	if err != nil {
		return nil, err
	}
	defer v.close()

	// tcpreplay -K reads the whole capture into memory before it sends:
	// what that costs is measured once and not counted per packet.
	one, err := v.replay(capture, 0, 1)
	if err != nil {
		return nil, err
	}
	v.preload = one.replayCPU

	const group = "aclog live"
	top, err := v.replay(capture, 0, 3*liveTrialSeconds*100000)
	if err != nil {
		return nil, err
	}
	rows := []Row{{Group: group, Name: "tcpreplay --topspeed into the veth, nothing capturing (ceiling)", Amount: float64(top.sent),
		Unit: "pkts", Took: top.took, Note: fmt.Sprintf("CPU per packet: tcpreplay %.2f µs, softirq %.2f µs", top.cpuPerPacket(), perPacket(top.softirq, top.sent))}}
	for _, w := range []int{1, 2} {
		best, note, err := v.highestRate(bin, dir, capture, w)
		if err != nil {
			return nil, err
		}
		row := Row{Group: group, Name: fmt.Sprintf("aclog -i, highest rate with zero drops, -workers %d", w), Amount: float64(best.sent),
			Unit: "pkts", Took: best.took, Note: note}
		if best.sent == 0 {
			row.Amount, row.Took = 0, time.Second
		}
		if w > 1 {
			row.Reference = rows[len(rows)-1].Name
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// highestRate doubles the rate from 25,000 packets/s while aclog keeps up,
// then halves the gap to the first rate it did not keep up with three
// times; it returns the trial passed at the highest rate sent and a note
// on it and on the first failure. A rate tcpreplay cannot send on this
// machine ends the search where it is: what limits is then the sender.
func (v veth) highestRate(bin, dir, capture string, workers int) (best liveTrial, note string, err error) {
	var fail liveTrial
	senderBound := false
	try := func(rate int) (bool, error) {
		t, err := v.trial(bin, dir, capture, workers, rate)
		if err != nil {
			return false, err
		}
		switch {
		case !t.keptUp():
			fail = t
			return false, nil
		case best.sent == 0 || t.achieved() > best.achieved():
			best = t
		}
		if t.senderBound() {
			senderBound = true
			return false, nil
		}
		return true, nil
	}
	lo, hi := 0, 0
	for rate := 25000; rate <= 1600000 && !senderBound; rate *= 2 {
		ok, err := try(rate)
		if err != nil {
			return best, "", err
		}
		if !ok {
			hi = rate
			break
		}
		lo = rate
	}
	for range 3 {
		if senderBound || hi == 0 || lo == 0 {
			break
		}
		mid := (lo + hi) / 2
		ok, err := try(mid)
		if err != nil {
			return best, "", err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	var notes []string
	if best.sent > 0 {
		notes = append(notes, best.describe())
	}
	if senderBound {
		notes = append(notes, "tcpreplay could not send faster here (the sender limits, not aclog)")
	}
	if fail.rate > 0 {
		notes = append(notes, fmt.Sprintf("at %d/s asked: %s", fail.rate, fail.verdict()))
	}
	return best, strings.Join(notes, "; "), nil
}

// liveTrial is one rate sent into the veth while aclog captured.
type liveTrial struct {
	rate                         int // asked of tcpreplay; 0: top speed
	sent                         int
	took                         time.Duration
	captured, kernelDrop, ifDrop int
	aclogCPU, replayCPU          time.Duration
	softirq                      time.Duration // all CPUs, during the send
}

func (t liveTrial) achieved() float64 { return float64(t.sent) / t.took.Seconds() }

// keptUp says aclog captured every packet sent, none dropped.
func (t liveTrial) keptUp() bool {
	return t.kernelDrop == 0 && t.ifDrop == 0 && t.captured >= t.sent
}

// senderBound says tcpreplay sent well below the rate asked.
func (t liveTrial) senderBound() bool { return t.achieved() < 0.95*float64(t.rate) }

func (t liveTrial) cpuPerPacket() float64 { return perPacket(t.replayCPU, t.sent) }

func perPacket(d time.Duration, n int) float64 {
	return float64(d.Microseconds()) / float64(max(n, 1))
}

// describe says what each part cost per packet.
func (t liveTrial) describe() string {
	return fmt.Sprintf("%d/s asked, %.0f/s sent; CPU per packet: aclog %.2f µs, tcpreplay %.2f µs, softirq %.2f µs",
		t.rate, t.achieved(), perPacket(t.aclogCPU, t.captured), perPacket(t.replayCPU, t.sent), perPacket(t.softirq, t.sent))
}

// verdict says why a trial failed.
func (t liveTrial) verdict() string {
	var why []string
	if t.kernelDrop > 0 || t.ifDrop > 0 {
		why = append(why, fmt.Sprintf("%d kernel drops, %d interface drops", t.kernelDrop, t.ifDrop))
	}
	if t.captured < t.sent {
		why = append(why, fmt.Sprintf("%d of %d packets captured", t.captured, t.sent))
	}
	return strings.Join(why, ", ") + " (" + t.describe() + ")"
}

// veth is a veth pair: outer in this namespace, where aclog captures, and
// inner in a network namespace of its own, where tcpreplay sends.
type veth struct {
	ns, outer, inner string
	preload          time.Duration // tcpreplay's CPU time reading the capture into memory
}

func newVeth() (veth, error) {
	id := strconv.Itoa(os.Getpid() % 100000)
	v := veth{ns: "acbench" + id, outer: "acb" + id + "a", inner: "acb" + id + "b"}
	if err := ip("netns", "add", v.ns); err != nil {
		return v, fmt.Errorf("%w: %v", ErrNoLive, err)
	}
	for _, args := range [][]string{
		{"link", "add", v.outer, "type", "veth", "peer", "name", v.inner, "netns", v.ns},
		{"link", "set", v.outer, "up"},
		{"-n", v.ns, "link", "set", v.inner, "up"},
	} {
		if err := ip(args...); err != nil {
			v.close()
			return v, err
		}
	}
	return v, nil
}

func (v veth) close() {
	ip("link", "del", v.outer)
	ip("netns", "del", v.ns)
}

func ip(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

var tcpreplaySent = regexp.MustCompile(`Actual: (\d+) packets \(\d+ bytes\) sent in ([\d.]+) seconds`)

// replay sends n packets of capture (looped) into the veth at rate
// packets/s (0: as fast as it can). It reads the capture into memory
// first (-K), so that the send is not held up by the disk; its CPU time
// is counted without that (v.preload).
func (v veth) replay(capture string, rate, n int) (liveTrial, error) {
	// At a rate, tcpreplay's default timing spins on the clock between
	// packets and takes a core from what it measures: it sleeps instead
	// and sends 100 packets per interval.
	speed := []string{"--topspeed"}
	if rate > 0 {
		speed = []string{"--pps=" + strconv.Itoa(rate), "--timer=nano", "--pps-multi=100"}
	}
	args := append([]string{"netns", "exec", v.ns, "tcpreplay", "-K", "--loop=0", "--limit=" + strconv.Itoa(n), "-i", v.inner}, speed...)
	cmd := exec.Command("ip", append(args, capture)...)
	soft0 := softirq()
	out, err := cmd.CombinedOutput()
	t := liveTrial{rate: rate, softirq: softirq() - soft0}
	if err != nil {
		return t, fmt.Errorf("tcpreplay: %v: %s", err, out)
	}
	m := tcpreplaySent.FindSubmatch(out)
	if m == nil {
		return t, fmt.Errorf("tcpreplay said:\n%s", out)
	}
	t.sent, _ = strconv.Atoi(string(m[1]))
	secs, _ := strconv.ParseFloat(string(m[2]), 64)
	t.took = time.Duration(secs * float64(time.Second))
	t.replayCPU = max(0, cpuTime(cmd)-v.preload)
	return t, nil
}

var (
	stoppedLine = regexp.MustCompile(`msg="aclog stopped".*`)
	counter     = func(line, name string) int {
		m := regexp.MustCompile(` ` + name + `=(\d+)`).FindStringSubmatch(line)
		if m == nil {
			return -1
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
)

// trial runs aclog -i on the outer end while tcpreplay sends
// liveTrialSeconds of packets at rate into the inner end.
func (v veth) trial(bin, dir, capture string, workers, rate int) (liveTrial, error) {
	root := filepath.Join(dir, "data")
	if err := os.RemoveAll(root); err != nil {
		return liveTrial{}, err
	}
	aclog := exec.Command(filepath.Join(bin, "aclog"), "-i", v.outer, "-workers", strconv.Itoa(workers), "-data", root,
		"-gateway", "BE0C4A11", "-log-level", "info", "-stats-interval", "0")
	var logs syncbuf.Buffer
	aclog.Stderr = &logs
	if err := aclog.Start(); err != nil {
		return liveTrial{}, err
	}
	stop := func() error {
		aclog.Process.Signal(syscall.SIGTERM)
		return aclog.Wait()
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "msg=capturing"); {
		if time.Now().After(deadline) {
			stop()
			return liveTrial{}, fmt.Errorf("aclog -i %s did not start capturing in 10 s:\n%s", v.outer, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t, err := v.replay(capture, rate, rate*liveTrialSeconds)
	if err != nil {
		stop()
		return t, err
	}
	time.Sleep(time.Second) // what the rings hold is read
	if err := stop(); err != nil {
		return t, fmt.Errorf("aclog -i: %v:\n%s", err, logs.String())
	}
	line := stoppedLine.FindString(logs.String())
	t.captured, t.kernelDrop, t.ifDrop = counter(line, "captured"), counter(line, "kernel_dropped"), counter(line, "if_dropped")
	if t.captured < 0 || t.kernelDrop < 0 || t.ifDrop < 0 {
		return t, fmt.Errorf("aclog's last line has no captured, kernel_dropped and if_dropped counts:\n%s", logs.String())
	}
	t.aclogCPU = cpuTime(aclog)
	if t.keptUp() {
		fmt.Fprintf(os.Stderr, "acbench: live -workers %d: kept up: %s\n", workers, t.describe())
	} else {
		fmt.Fprintf(os.Stderr, "acbench: live -workers %d: did not keep up: %s\n", workers, t.verdict())
	}
	return t, nil
}

// cpuTime is the user and system time of a finished command.
func cpuTime(cmd *exec.Cmd) time.Duration {
	if cmd.ProcessState == nil {
		return 0
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// softirq is the time all CPUs have spent in softirqs since boot
// (/proc/stat, in clock ticks of 10 ms).
func softirq() time.Duration {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 7 && fields[0] == "cpu" {
			n, _ := strconv.ParseInt(fields[7], 10, 64)
			return time.Duration(n) * 10 * time.Millisecond
		}
	}
	return 0
}
