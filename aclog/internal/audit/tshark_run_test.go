package audit

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// tshark runs tshark with args and returns its standard output.
func tshark(t *testing.T, args ...string) []byte {
	t.Helper()
	// Checksum validation is off by default; say so anyway, since several
	// captures have offloaded checksums and a validating profile would drop
	// their segments from reassembly.
	args = append([]string{"-n", "-o", "tcp.check_checksum:FALSE", "-o", "udp.check_checksum:FALSE"}, args...)
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// aggregator joins several occurrences of a field in one packet; it cannot
// appear in a URI or a name.
const aggregator = "\x01"

// fields runs a -T fields query and returns the rows split into fields.
func fields(t *testing.T, file, filter string, names ...string) [][]string {
	args := []string{"-r", file, "-Y", filter, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=" + aggregator}
	for _, n := range names {
		args = append(args, "-e", n)
	}
	var rows [][]string
	sc := bufio.NewScanner(bytes.NewReader(tshark(t, args...)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		rows = append(rows, strings.Split(sc.Text(), "\t"))
	}
	return rows
}

func runTshark(t *testing.T, file string) tsharkResult {
	var r tsharkResult
	r.TsharkVersion = strings.TrimSpace(strings.SplitN(string(tshark(t, "--version")), "\n", 2)[0])

	for _, row := range fields(t, file, "http.request", "http.request.method", "http.host", "http.request.uri") {
		// Pipelined requests in one segment come as aggregated fields.
		methods := strings.Split(row[0], aggregator)
		hosts := strings.Split(row[1], aggregator)
		uris := strings.Split(row[2], aggregator)
		for i, m := range methods {
			r.HTTP = append(r.HTTP, m+"\t"+at(hosts, i)+"\t"+at(uris, i))
		}
	}
	for _, row := range fields(t, file, "dns.flags.response==0", "dns.qry.name") {
		for _, n := range strings.Split(row[0], aggregator) {
			if n != "" {
				r.DNSQueries = append(r.DNSQueries, n)
			}
		}
	}
	for _, row := range fields(t, file, "tls.handshake.type==1", "tls.handshake.extensions_server_name") {
		for _, n := range strings.Split(row[0], aggregator) {
			if n != "" {
				r.SNI = append(r.SNI, n)
			}
		}
	}
	r.Conversations = conversations(t, file)
	sortResult(&r)
	return r
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// conversations sums frame.len per tcp.stream / udp.stream and direction,
// then checks the sums against tshark's own conversation tables.
func conversations(t *testing.T, file string) []string {
	type side struct {
		ep             string
		frames, nbytes uint64
	}
	type conv struct {
		proto string
		a, b  side
	}
	convs := map[string]*conv{}
	var order []string
	rows := fields(t, file, "tcp || udp", "frame.len", "tcp.stream", "udp.stream",
		"ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport")
	for _, f := range rows {
		first := func(i int) string { return strings.Split(f[i], aggregator)[0] }
		n, err := strconv.ParseUint(first(0), 10, 64)
		if err != nil {
			t.Fatalf("frame.len %q: %v", f[0], err)
		}
		proto, stream, sp, dp := "tcp", first(1), first(7), first(8)
		if stream == "" {
			proto, stream, sp, dp = "udp", first(2), first(9), first(10)
		}
		src, dst := first(3), first(5)
		if src == "" {
			src, dst = "["+first(4)+"]", "["+first(6)+"]"
		}
		srcEP, dstEP := src+":"+sp, dst+":"+dp
		key := proto + stream
		c := convs[key]
		if c == nil {
			c = &conv{proto: proto, a: side{ep: srcEP}, b: side{ep: dstEP}}
			convs[key] = c
			order = append(order, key)
		}
		s := &c.a
		if srcEP != c.a.ep {
			s = &c.b
		}
		s.frames++
		s.nbytes += n
	}
	var out []string
	summed := map[string]int{} // "proto x <-> y frames" as the table prints it
	for _, k := range order {
		c := convs[k]
		out = append(out, convString(c.proto, c.a.ep, c.b.ep, c.a.frames, c.a.nbytes, c.b.frames, c.b.nbytes))
		x, y := c.a.ep, c.b.ep
		if y < x {
			x, y = y, x
		}
		summed[fmt.Sprintf("%s %s %s %d %d", c.proto, x, y, c.a.frames+c.b.frames, c.a.nbytes+c.b.nbytes)]++
	}

	// Cross-check against the printed tables.
	table := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(tshark(t, "-r", file, "-q", "-z", "conv,tcp", "-z", "conv,udp")))
	proto := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "TCP Conversations"):
			proto = "tcp"
		case strings.HasPrefix(line, "UDP Conversations"):
			proto = "udp"
		}
		if !strings.Contains(line, "<->") {
			continue
		}
		f := strings.Fields(line)
		// A <-> B framesBA bytesBA unit framesAB bytesAB unit framesTotal bytesTotal unit ...
		if len(f) < 12 {
			t.Fatalf("unexpected conversation line %q", line)
		}
		x, y := bracket(f[0]), bracket(f[2])
		if y < x {
			x, y = y, x
		}
		total := f[10]
		if f[11] != "bytes" {
			total = "~" + f[10] + f[11] // rounded: compared loosely below
		}
		table[fmt.Sprintf("%s %s %s %s %s", proto, x, y, f[9], total)]++
	}
	for k, n := range summed {
		if table[k] == n {
			continue
		}
		// Rounded totals: find the row with the same endpoints and frames.
		parts := strings.Fields(k)
		prefix := strings.Join(parts[:4], " ") + " ~"
		found := false
		for tk := range table {
			if strings.HasPrefix(tk, prefix) {
				found = true
			}
		}
		if !found {
			t.Fatalf("per-frame sums %q do not match tshark's conversation table", k)
		}
	}
	if len(summed) > 0 && len(table) == 0 {
		t.Fatal("tshark printed no conversation table")
	}
	return out
}

// bracket turns tshark's "addr:port" (IPv6 without brackets) into the
// netip.AddrPort form.
func bracket(ep string) string {
	i := strings.LastIndexByte(ep, ':')
	if i < 0 || !strings.Contains(ep[:i], ":") {
		return ep
	}
	return "[" + ep[:i] + "]" + ep[i:]
}
