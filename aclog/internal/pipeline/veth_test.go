package pipeline_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/pipeline"
	"github.com/acstore/acstore/internal/testenv"
)

// veth is a veth pair: Outer in this namespace, where aclog captures, and
// Inner in a network namespace of its own, where tcpreplay sends.
type veth struct{ NS, Outer, Inner string }

func newVeth(t *testing.T) veth {
	t.Helper()
	testenv.Root(t, "a veth pair in a network namespace")
	ipTool := testenv.Tool(t, "ip")
	id := strconv.Itoa(os.Getpid()%100000) + strconv.Itoa(int(time.Now().UnixNano()%1000))
	v := veth{NS: "aclog" + id, Outer: "acv" + id + "a", Inner: "acv" + id + "b"}
	run := func(args ...string) error {
		out, err := exec.Command(ipTool, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	err := run("netns", "add", v.NS)
	testenv.Need(t, err == nil, "cannot create a network namespace: %v", err)
	t.Cleanup(func() { run("netns", "del", v.NS) })
	err = run("link", "add", v.Outer, "type", "veth", "peer", "name", v.Inner, "netns", v.NS)
	testenv.Need(t, err == nil, "cannot create a veth pair: %v", err)
	t.Cleanup(func() { run("link", "del", v.Outer) })
	for _, args := range [][]string{
		{"link", "set", v.Outer, "up"},
		{"-n", v.NS, "link", "set", v.Inner, "up"},
	} {
		if err := run(args...); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// replay sends a capture into the inner end at a fixed rate.
func (v veth) replay(t *testing.T, file string, pps int) {
	t.Helper()
	tr := testenv.Tool(t, "tcpreplay")
	out, err := exec.Command("ip", "netns", "exec", v.NS, tr, "-i", v.Inner, "--pps="+strconv.Itoa(pps), file).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpreplay: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Successful packets:") {
		t.Fatalf("tcpreplay said:\n%s", out)
	}
}

// promisc reports whether the interface's IFF_PROMISC flag is set.
func promisc(t *testing.T, iface string) bool {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", iface, "flags"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := strconv.ParseUint(strings.TrimSpace(string(b)), 0, 32)
	if err != nil {
		t.Fatal(err)
	}
	return f&0x100 != 0
}

// liveRun captures on iface while send runs, then stops as SIGTERM would.
func liveRun(t *testing.T, root, iface string, mod func(*pipeline.Config), send func(*pipeline.Pipeline)) *pipeline.Pipeline {
	t.Helper()
	var cfg pipeline.Config
	cfg.RegisterFlags(newFlagSet())
	cfg.Root, cfg.Gateway, cfg.Iface = root, gw, iface
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Record.Reduce.Enabled = false
	if mod != nil {
		mod(&cfg)
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	time.Sleep(700 * time.Millisecond) // the capture is open
	send(p)
	time.Sleep(700 * time.Millisecond) // the rings are read
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return p
}

var rowTime = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}`)

// eventRows are the rows of the per-event tables with their times taken
// out: a replay keeps the packets and their order, not their times (nor
// therefore the minutes and windows that F and T rows sum over).
func eventRows(t *testing.T, root string) map[string]int {
	out := map[string]int{}
	for r, n := range rowSet(t, root) {
		name, row, _ := strings.Cut(r, ": ")
		table := name[len(name)-len("A.dat")]
		if table == 'F' || table == 'T' {
			continue
		}
		out[string(table)+": "+rowTime.ReplaceAllString(row, "TIME")] += n
	}
	return out
}

// TestLiveVeth replays bundled captures with tcpreplay into a veth pair at
// a fixed rate and captures the other end with AF_PACKET (two sockets in
// a fanout group sharing packets by flowhash, two workers) and with
// libpcap: the rows are those of aclog -r on the same files (times
// aside), IP fragments included. The captures' frames are
// addressed to MAC addresses that are not the interface's, as on a mirror
// port: the interface is promiscuous while aclog captures, and not after.
func TestLiveVeth(t *testing.T) {
	v := newVeth(t)
	files := []string{
		"../../testdata/pcaps/mixed/base64-decode-5885_input.pcap",
		"../../testdata/pcaps/http/methods.pcap",
		"../../testdata/pcaps/ftp/bruteforce.pcap",
		"../../testdata/pcaps/dns/ipv6-fragmented-dns.pcap", // the fragments of a datagram meet in one worker
	}
	want := map[string]int{}
	for _, f := range files {
		root := t.TempDir()
		runFiles(t, root, func(c *pipeline.Config) { c.Workers = 2 }, f)
		for r, n := range eventRows(t, root) {
			want[r] += n
		}
	}
	if len(want) < 100 {
		t.Fatalf("only %d distinct rows from the files", len(want))
	}
	// The files' 2,412 packets take 2.4 s: the stats line, published
	// every second, shows a rate while they are captured.
	const replayRate = 1000
	for _, method := range []string{"afpacket", "pcap"} {
		t.Run(method, func(t *testing.T) {
			root := t.TempDir()
			wasPromisc := false
			var rate float64 // the highest packet rate the stats line showed
			p := liveRun(t, root, v.Outer, func(c *pipeline.Config) { c.Capture, c.Workers = method, 2 }, func(p *pipeline.Pipeline) {
				wasPromisc = promisc(t, v.Outer)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for _, f := range files {
						v.replay(t, f, replayRate)
					}
				}()
				for tick := time.NewTicker(100 * time.Millisecond); ; {
					select {
					case <-tick.C:
						rate = max(rate, p.Snapshot().PacketRate)
						continue
					case <-done:
					}
					break
				}
			})
			if !wasPromisc {
				t.Errorf("%s was not promiscuous while aclog captured", v.Outer)
			}
			if promisc(t, v.Outer) {
				t.Errorf("%s is still promiscuous after aclog stopped", v.Outer)
			}
			// The counters are published every second, not every load
			// interval (5 s, longer than the replay).
			if rate < replayRate/10 || rate > 1.5*replayRate {
				t.Errorf("the stats line showed at most %.0f packets/s captured during a replay at %d packets/s", rate, replayRate)
			}
			s := p.Snapshot()
			if s.Source.KernelDropped != 0 {
				t.Errorf("kernel dropped %d packets at %d packets/s", s.Source.KernelDropped, replayRate)
			}
			diffRows(t, method+" capture", want, eventRows(t, root))
		})
	}
}
