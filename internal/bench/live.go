package bench

import (
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
// machine, measured before the searches and again after them: each
// search's row is a ratio to the two together. tcpreplay, the kernel's receive path
// (veth, fanout program, ring copy, run in the sender's system call) and
// aclog share the machine's cores: each row's note says what each costs
// per packet, and how long tcpreplay waited for a CPU, which says whether
// its rate tells anything about the machine or only about its load.
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

	const group = "aclog live"
	before, err := v.replay(capture, 0)
	if err != nil {
		return nil, err
	}
	ceiling := Row{Group: group, Name: "tcpreplay --topspeed into the veth, nothing capturing (ceiling)", Amount: float64(before.sent),
		Unit: "pkts", Took: before.took}
	rows := []Row{ceiling}
	for _, w := range []int{1, 2} {
		best, note, err := v.highestRate(bin, dir, capture, w)
		if err != nil {
			return nil, err
		}
		row := Row{Group: group, Name: fmt.Sprintf("aclog -i, highest rate with zero drops, -workers %d", w), Amount: float64(best.sent),
			Unit: "pkts", Took: best.took, Reference: ceiling.Name, Note: note}
		if best.sent == 0 {
			row.Amount, row.Took = 0, time.Second
		}
		rows = append(rows, row)
	}
	after, err := v.replay(capture, 0)
	if err != nil {
		return nil, err
	}
	// The reference is both sends together: on a loaded machine the
	// ceiling moves while the searches run.
	rows[0].Amount, rows[0].Took = float64(before.sent+after.sent), before.took+after.took
	rows[0].Note = fmt.Sprintf("before the searches %.0f/s, %s; after them %.0f/s, %s",
		before.achieved(), before.describeSender(), after.achieved(), after.describeSender())
	return rows, nil
}

// highestRate doubles the rate from 25,000 packets/s while aclog keeps up,
// then halves the gap to the lowest rate it did not keep up with three
// times; it returns the trial passed at the highest rate sent and a note
// on it and on that failure. A rate tcpreplay cannot send on this machine
// before aclog failed ends the search where it is: what limits is then
// the sender (once aclog has failed at a rate, a pass below it is a pass,
// whatever tcpreplay managed to send).
func (v veth) highestRate(bin, dir, capture string, workers int) (best liveTrial, note string, err error) {
	var fail liveTrial
	senderBound := false
	try := func(rate int) (bool, error) {
		t, err := v.trial(bin, dir, capture, workers, rate)
		if err != nil {
			return false, err
		}
		if !t.keptUp() {
			if fail.rate == 0 || t.rate < fail.rate {
				fail = t
			}
			return false, nil
		}
		if best.sent == 0 || t.achieved() > best.achieved() {
			best = t
		}
		if t.senderBound() && fail.rate == 0 {
			senderBound = true
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
	return best, rateNote(best, fail, senderBound), nil
}

// rateNote is highestRate's note: on the best trial, on the sender when it
// limited, and on the lowest rate aclog did not keep up with.
func rateNote(best, fail liveTrial, senderBound bool) string {
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
	return strings.Join(notes, "; ")
}

// liveTrial is one rate sent into the veth while aclog captured.
type liveTrial struct {
	rate                         int // asked of tcpreplay; 0: top speed
	sent                         int
	took                         time.Duration
	captured, kernelDrop, ifDrop int
	aclogCPU, replayCPU          time.Duration // during the send (aclog: and the drain after it)
	softirq                      time.Duration // all CPUs, during the send
	replaySched                  schedStat
}

func (t liveTrial) achieved() float64 { return float64(t.sent) / t.took.Seconds() }

// keptUp says aclog captured every packet sent, none dropped.
func (t liveTrial) keptUp() bool {
	return t.kernelDrop == 0 && t.ifDrop == 0 && t.captured >= t.sent
}

// senderBound says tcpreplay sent well below the rate asked.
func (t liveTrial) senderBound() bool { return t.achieved() < 0.95*float64(t.rate) }

func perPacket(d time.Duration, n int) float64 {
	return float64(d.Microseconds()) / float64(max(n, 1))
}

// describe says what each part cost per packet.
func (t liveTrial) describe() string {
	return fmt.Sprintf("%d/s asked, %.0f/s sent; CPU per packet: aclog %.2f µs, tcpreplay %.2f µs, softirq %.2f µs; %s",
		t.rate, t.achieved(), perPacket(t.aclogCPU, t.captured), perPacket(t.replayCPU, t.sent), perPacket(t.softirq, t.sent),
		t.waited())
}

// describeSender says what tcpreplay cost per packet with nothing
// capturing, and what it would send on a core of its own at that cost.
func (t liveTrial) describeSender() string {
	return fmt.Sprintf("CPU per packet: tcpreplay %.2f µs (%.0f/s on a core of its own), softirq %.2f µs; %s",
		perPacket(t.replayCPU, t.sent), float64(t.sent)/max(t.replayCPU.Seconds(), 1e-9), perPacket(t.softirq, t.sent), t.waited())
}

// waited says how much of its runnable time tcpreplay spent waiting for a
// CPU: on a quiet machine a few percent; beyond, its rate measures the
// machine's load.
func (t liveTrial) waited() string {
	return fmt.Sprintf("tcpreplay waited for a CPU %.0f%% of its runnable time", 100*t.replaySched.waitedShare())
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

// replay sends the capture (looped) into the veth at rate packets/s for
// liveTrialSeconds; at rate 0 it sends as fast as it can for as long. A
// sender that cannot keep the rate is stopped (SIGINT: tcpreplay then
// says what it sent) at twice that time.
//
// What makes tcpreplay cheap per packet, so that as much of the machine
// as can be is left to what is measured:
//   - no -K (--preload-pcap): reading the capture into memory first cost
//     3-5 µs of CPU per packet of the file and 720 MB for 1M packets,
//     and sending from memory was not cheaper than reading the file
//     from the page cache as it sends;
//   - --no-flow-stats: counting flows (a hash table of every 5-tuple)
//     cost a quarter of tcpreplay's CPU per packet on short sessions;
//   - at a rate, its default timing spins on the clock between packets
//     and takes a core from what it measures: it sleeps instead and
//     sends 100 packets per interval.
//
// Each packet is a send() system call, on this machine (a VM) 1.3 µs
// of CPU for the call alone, which the receive path (veth, aclog's ring
// copy) runs inside: the Debian build has no other way to inject.
func (v veth) replay(capture string, rate int) (liveTrial, error) {
	args := []string{"netns", "exec", v.ns, "tcpreplay", "--no-flow-stats", "--loop=0", "-i", v.inner}
	stopAt := liveTrialSeconds * time.Second
	if rate > 0 {
		args = append(args, "--limit="+strconv.Itoa(rate*liveTrialSeconds), "--pps="+strconv.Itoa(rate), "--timer=nano", "--pps-multi=100")
		stopAt *= 2
	} else {
		args = append(args, "--topspeed")
	}
	cmd := exec.Command("ip", append(args, capture)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	soft0 := softirq()
	if err := cmd.Start(); err != nil {
		return liveTrial{}, fmt.Errorf("tcpreplay: %w", err)
	}
	sched := watchSched(cmd)
	stop := time.AfterFunc(stopAt, func() { cmd.Process.Signal(syscall.SIGINT) })
	err := cmd.Wait()
	stop.Stop()
	t := liveTrial{rate: rate, softirq: softirq() - soft0, replaySched: sched(), replayCPU: cpuTime(cmd)}
	if err != nil {
		return t, fmt.Errorf("tcpreplay: %v: %s", err, out.Bytes())
	}
	m := tcpreplaySent.FindSubmatch(out.Bytes())
	if m == nil {
		return t, fmt.Errorf("tcpreplay said:\n%s", out.Bytes())
	}
	t.sent, _ = strconv.Atoi(string(m[1]))
	secs, _ := strconv.ParseFloat(string(m[2]), 64)
	t.took = time.Duration(secs * float64(time.Second))
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
	cpu0 := procCPU(aclog.Process.Pid)
	t, err := v.replay(capture, rate)
	if err != nil {
		stop()
		return t, err
	}
	time.Sleep(time.Second) // what the rings hold is read
	t.aclogCPU = procCPU(aclog.Process.Pid) - cpu0
	if err := stop(); err != nil {
		return t, fmt.Errorf("aclog -i: %v:\n%s", err, logs.String())
	}
	line := stoppedLine.FindString(logs.String())
	t.captured, t.kernelDrop, t.ifDrop = counter(line, "captured"), counter(line, "kernel_dropped"), counter(line, "if_dropped")
	if t.captured < 0 || t.kernelDrop < 0 || t.ifDrop < 0 {
		return t, fmt.Errorf("aclog's last line has no captured, kernel_dropped and if_dropped counts:\n%s", logs.String())
	}
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
