package audit

// The comparison test: every capture under aclog/testdata/pcaps/{http,dns,
// tls,mixed} goes through the engine, and what comes out must equal what
// tshark makes of the same file:
//
//   - HTTP: the multiset of (method, host, URI) of requests equals tshark's
//     "-Y http.request -e http.request.method -e http.host -e http.request.uri".
//   - DNS: the multiset of names of DNSQuery records that saw their query
//     (HasQuery) equals tshark's "-Y dns.flags.response==0 -e dns.qry.name".
//     Records built from a response alone (HasQuery false, e.g. dns53.pcap)
//     are left out on purpose: tshark's filter selects query packets, and a
//     response-only record stands for a query that was not captured.
//   - TLS: the multiset of non-empty SNIs equals tshark's server names of
//     Client Hellos ("-Y tls.handshake.type==1").
//   - Sessions: every Session's frames and bytes in each direction equal
//     tshark's conversation statistics ("-z conv,tcp" and "-z conv,udp").
//     tshark prints large byte counts rounded ("227 kB"), so the exact
//     totals are summed from tshark's per-frame fields (frame.len by
//     tcp.stream / udp.stream, the key its conversation table uses), and
//     the test checks those sums against the printed table (frames exactly,
//     bytes exactly where printed in bytes).
//
// tshark runs when it is on PATH; its results are also stored as golden
// files under testdata/tshark/ (refresh with -update) so the comparison
// still runs where tshark is missing. Any difference fails, unless it is
// listed in the exceptions table below with the reason.

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/acstore/acstore/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the tshark golden files from tshark's output")

const pcapRoot = "../../testdata/pcaps"

// tsharkResult is what the comparison needs from tshark, as stored in the
// golden files. Every list is sorted.
type tsharkResult struct {
	TsharkVersion string   `json:"tshark_version"`
	HTTP          []string `json:"http_requests"` // "METHOD\thost\turi"
	DNSQueries    []string `json:"dns_queries"`
	SNI           []string `json:"tls_sni"`
	Conversations []string `json:"conversations"` // see convString
}

// convString renders a conversation direction-independently: endpoints in
// sorted order, each with the frames and bytes it sent.
func convString(proto, x, y string, xFrames, xBytes, yFrames, yBytes uint64) string {
	if y < x {
		x, y = y, x
		xFrames, xBytes, yFrames, yBytes = yFrames, yBytes, xFrames, xBytes
	}
	return fmt.Sprintf("%s %s sent %d/%dB <-> %s sent %d/%dB", proto, x, xFrames, xBytes, y, yFrames, yBytes)
}

// exception is a documented, justified difference between the engine and
// tshark on one capture. The differences found must equal the listed ones
// exactly: a listed difference that goes away also fails, so the table
// cannot go stale.
type exception struct {
	file       string // relative to pcapRoot
	kind       string // "http", "dns", "sni", "conv"
	onlyEngine []string
	onlyTshark []string
	why        string
}

var exceptions = []exception{
	{
		file: "dns/dns-wiresharkrepo.pcap",
		kind: "conv",
		onlyEngine: []string{
			"udp 192.168.170.20:53 sent 4/595B <-> 192.168.170.8:32795 sent 4/295B",
			"udp 192.168.170.20:53 sent 8/733B <-> 192.168.170.8:32795 sent 8/597B",
		},
		onlyTshark: []string{
			"udp 192.168.170.20:53 sent 12/1328B <-> 192.168.170.8:32795 sent 12/892B",
		},
		why: "The client reuses source port 32795 for queries over 4.5 minutes with a 71 s silence " +
			"(20.8 s to 92.2 s). The engine ends a UDP session after UDPIdleTimeout (60 s by default) " +
			"without packets, so this is two sessions; tshark has no UDP timeout and keeps one " +
			"conversation. The two sessions add up to tshark's totals exactly.",
	},
	{
		file: "dns/ipv6-fragmented-dns.pcap",
		kind: "conv",
		onlyEngine: []string{
			"udp [2001:470:1f11:81f:d138:5f55:6d4:1fe2]:51851 sent 2/272B <-> [2607:f740:b::f93]:53 sent 3/3424B",
		},
		onlyTshark: []string{
			"udp [2001:470:1f11:81f:d138:5f55:6d4:1fe2]:51851 sent 2/272B <-> [2607:f740:b::f93]:53 sent 1/436B",
		},
		why: "The second response arrives as three IPv6 fragments (frames 6-8). tshark credits a " +
			"reassembled datagram to the frame that completed it only (1 frame, 436 B); the engine " +
			"credits all three fragment frames (1494+1494+436 B) to the session, because every one of " +
			"them crossed the link and traffic accounting must see them. Frame 4 is a lone fragment " +
			"of a datagram never completed: neither side can attribute it to a session.",
	},
}

func TestTsharkComparison(t *testing.T) {
	files := captures(t)
	if len(files) == 0 {
		t.Fatal("no captures found under " + pcapRoot)
	}
	haveTshark := false
	if _, err := exec.LookPath("tshark"); err == nil && !testing.Short() {
		haveTshark = true
	} else {
		msg := "tshark not on PATH: comparing against the golden files in testdata/tshark"
		if err == nil {
			msg = "-short: comparing against the golden files in testdata/tshark without running tshark"
		}
		if err != nil {
			// CI claims a comparison against tshark itself.
			if testenv.CI() {
				t.Fatal("CI=true and tshark is not on PATH (scripts/deps.sh installs it): the comparison against tshark itself cannot run")
			}
		}
		t.Log(msg)
		if *update {
			t.Fatal("-update needs tshark")
		}
	}
	var mu sync.Mutex
	used := make(map[int]bool)
	t.Cleanup(func() {
		// Runs after the parallel subtests have finished.
		for i, ex := range exceptions {
			if !used[i] {
				t.Errorf("exception for %s (%s) matches no capture", ex.file, ex.kind)
			}
		}
	})
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			golden := filepath.Join("testdata", "tshark", rel+".json")
			var want tsharkResult
			if haveTshark {
				want = runTshark(t, filepath.Join(pcapRoot, rel))
				if *update {
					writeGolden(t, golden, want)
				} else if stored, err := readGolden[tsharkResult](golden); err != nil {
					t.Errorf("golden %s: %v (run go test -update)", golden, err)
				} else if !sameResults(stored, want) {
					// A different tshark version may dissect differently; the
					// live tshark is what this run compares against.
					t.Logf("golden %s (tshark %s) differs from tshark %s; run -update if the new output is right",
						golden, stored.TsharkVersion, want.TsharkVersion)
				}
			} else {
				var err error
				if want, err = readGolden[tsharkResult](golden); err != nil {
					t.Fatalf("golden %s: %v", golden, err)
				}
			}
			got := engineResult(t, filepath.Join(pcapRoot, rel))
			compareKinds(t, rel, []compared{
				{"http", got.HTTP, want.HTTP},
				{"dns", got.DNSQueries, want.DNSQueries},
				{"sni", got.SNI, want.SNI},
				{"conv", got.Conversations, want.Conversations},
			}, exceptions, used, &mu)
			t.Logf("%d HTTP requests, %d DNS queries, %d SNIs, %d conversations",
				len(want.HTTP), len(want.DNSQueries), len(want.SNI), len(want.Conversations))
		})
	}
}

// captures lists the compared captures relative to pcapRoot.
func captures(t *testing.T) []string {
	var out []string
	for _, dir := range []string{"http", "dns", "tls", "mixed"} {
		ents, err := os.ReadDir(filepath.Join(pcapRoot, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			n := e.Name()
			if strings.Contains(n, ".expected.") || !(strings.HasSuffix(n, ".pcap") || strings.HasSuffix(n, ".pcapng")) {
				continue
			}
			out = append(out, dir+"/"+n)
		}
	}
	return out
}

// engineResult runs the engine with its default configuration and renders
// its records the way tsharkResult renders tshark's.
func engineResult(t *testing.T, path string) tsharkResult {
	c, st := runFile(t, path, DefaultConfig())
	var r tsharkResult
	for _, h := range c.http {
		r.HTTP = append(r.HTTP, h.Method+"\t"+h.Host+"\t"+h.URI)
	}
	for _, q := range c.dns {
		if q.HasQuery {
			r.DNSQueries = append(r.DNSQueries, q.Name)
		}
	}
	for _, h := range c.tls {
		if h.SNI != "" {
			r.SNI = append(r.SNI, h.SNI)
		}
	}
	for _, s := range c.sessions {
		r.Conversations = append(r.Conversations, convString(s.Proto.String(), s.Client.String(), s.Server.String(),
			s.ClientPackets, s.ClientBytes, s.ServerPackets, s.ServerBytes))
	}
	if st.Malformed > 0 {
		t.Logf("engine: %d malformed packets", st.Malformed)
	}
	sortResult(&r)
	return r
}

func sortResult(r *tsharkResult) {
	for _, l := range []*[]string{&r.HTTP, &r.DNSQueries, &r.SNI, &r.Conversations} {
		slices.Sort(*l)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func sameResults(a, b tsharkResult) bool {
	return slices.Equal(a.HTTP, b.HTTP) && slices.Equal(a.DNSQueries, b.DNSQueries) &&
		slices.Equal(a.SNI, b.SNI) && slices.Equal(a.Conversations, b.Conversations)
}

// multisetDiff returns the elements of sorted a not in sorted b and those of
// b not in a, counting duplicates.
func multisetDiff(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}

// readGolden reads a golden file of JSON into a T.
func readGolden[T any](path string) (T, error) {
	var r T
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("parse: %w", err)
	}
	return r, nil
}

// writeGolden writes v as indented JSON into a golden file (go test -update).
func writeGolden(t *testing.T, path string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// compared is one kind of record as the engine and tshark see it.
type compared struct {
	name      string
	got, want []string
}

// compareKinds fails t for every difference between the engine's and
// tshark's multisets of rel beyond the exceptions documented for it, and
// marks those exceptions used.
func compareKinds(t *testing.T, rel string, kinds []compared, exceptions []exception, used map[int]bool, mu *sync.Mutex) {
	t.Helper()
	for _, kind := range kinds {
		onlyEngine, onlyTshark := multisetDiff(kind.got, kind.want)
		var expEngine, expTshark []string
		for i, ex := range exceptions {
			if ex.file == rel && ex.kind == kind.name {
				mu.Lock()
				used[i] = true
				mu.Unlock()
				expEngine, expTshark = ex.onlyEngine, ex.onlyTshark
			}
		}
		if !slices.Equal(onlyEngine, sorted(expEngine)) || !slices.Equal(onlyTshark, sorted(expTshark)) {
			t.Errorf("%s: engine and tshark differ beyond the documented exceptions\nonly engine:\n  %s\nonly tshark:\n  %s\ndocumented only engine:\n  %s\ndocumented only tshark:\n  %s",
				kind.name, strings.Join(onlyEngine, "\n  "), strings.Join(onlyTshark, "\n  "),
				strings.Join(expEngine, "\n  "), strings.Join(expTshark, "\n  "))
		}
	}
}
