package audit

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// arkimeSession is the part of one Arkime session (tests/pcap/<name>.test,
// committed beside each Arkime capture as .expected.test) that aclog can be
// held to. Addresses of mail are anonymised upstream ("xxxx"), so they are
// not compared.
type arkimeSession struct {
	Body struct {
		Protocol []string `json:"protocol"`
		Source   struct {
			IP      string `json:"ip"`
			Port    uint16 `json:"port"`
			Bytes   uint64 `json:"bytes"`
			Packets uint64 `json:"packets"`
		} `json:"source"`
		Destination struct {
			IP      string `json:"ip"`
			Port    uint16 `json:"port"`
			Bytes   uint64 `json:"bytes"`
			Packets uint64 `json:"packets"`
		} `json:"destination"`
		DNS []struct {
			QueryHost string `json:"queryHost"`
		} `json:"dns"`
		HTTP struct {
			Host   []string `json:"host"`
			Method []string `json:"method"`
			Path   []string `json:"path"`
		} `json:"http"`
		TLS *struct{} `json:"tls"`
		FTP *struct {
			Command []string `json:"command"`
		} `json:"ftp"`
		Email *struct {
			Subject  []string `json:"subject"`
			Filename []string `json:"filename"`
			MD5      []string `json:"md5"`
		} `json:"email"`
	} `json:"body"`
}

func arkimeExpected(t *testing.T, path string) []arkimeSession {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Sessions []arkimeSession `json:"sessions3"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(doc.Sessions) == 0 {
		t.Fatalf("%s: no sessions", path)
	}
	return doc.Sessions
}

// TestArkimeExpected runs every capture that has an Arkime expected file
// and holds aclog to what Arkime indexed: per session the packets and bytes
// each way (what F and A rows sum), DNS query names, TLS server names, HTTP
// methods and paths, mail subjects, attachment names and their MD5s.
func TestArkimeExpected(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(pcapRoot, "*", "*.expected.test"))
	if err != nil || len(paths) < 18 {
		t.Fatalf("want the 18 Arkime expected files under %s, found %d (%v)", pcapRoot, len(paths), err)
	}
	for _, exp := range paths {
		capFile := strings.TrimSuffix(exp, ".expected.test")
		t.Run(filepath.Base(capFile), func(t *testing.T) {
			t.Parallel()
			want := arkimeExpected(t, exp)
			c, _ := runFile(t, capFile, DefaultConfig())
			checkArkime(t, capFile, want, c)
		})
	}
}

// arkimeExceptions: where Arkime and aclog differ by design, keyed by
// capture and field, with the reason.
var arkimeExceptions = map[string]string{
	"dns-punycode.pcap DNS query names": "Arkime shows the IDN in Unicode (уаноо.қаз); aclog stores the " +
		"name as the query carried it (xn--80a0adav.xn--80ao21a), which is what a search by wire name finds",
	"smtp-subject-utf8-q.pcap attachment MD5s": "Arkime hashes every base64 part, here the text/plain body; " +
		"aclog keeps a text body as the mail's body, not as an attachment",
}

func checkArkime(t *testing.T, capFile string, want []arkimeSession, c *collector) {
	var wDNS, wSNI, wMethods, wPaths, wSubjects, wFiles, wMD5 []string
	for _, s := range want {
		b := &s.Body
		checkArkimeCounts(t, s, c)
		for _, d := range b.DNS {
			wDNS = append(wDNS, strings.ToLower(d.QueryHost))
		}
		if b.TLS != nil {
			wSNI = append(wSNI, b.HTTP.Host...)
		} else {
			wMethods = append(wMethods, b.HTTP.Method...)
			wPaths = append(wPaths, b.HTTP.Path...)
		}
		if b.FTP != nil && slices.Contains(b.FTP.Command, "USER") && !slices.ContainsFunc(c.creds, func(x *Credential) bool { return x.Proto == "ftp" }) {
			t.Errorf("Arkime saw FTP USER; no ftp credential in %+v", c.creds)
		}
		if b.Email != nil {
			for _, sub := range b.Email.Subject {
				wSubjects = append(wSubjects, strings.Join(strings.Fields(sub), " "))
			}
			wFiles = append(wFiles, b.Email.Filename...)
			wMD5 = append(wMD5, b.Email.MD5...)
		}
	}
	var gDNS, gSNI, gMethods, gPaths, gSubjects, gFiles, gMD5 []string
	for _, q := range c.dns {
		// DNS names are case-insensitive; Arkime lower-cases them.
		gDNS = append(gDNS, strings.ToLower(q.Name))
	}
	for _, h := range c.tls {
		gSNI = append(gSNI, h.SNI)
	}
	for _, h := range c.http {
		gMethods = append(gMethods, h.Method)
		p, _, _ := strings.Cut(h.URI, "?")
		gPaths = append(gPaths, p)
	}
	for _, m := range messages(c) {
		// Arkime keeps only the first line of a folded header and trims
		// it; aclog unfolds. Compare Arkime's text with the same length
		// of aclog's, whitespace runs collapsed.
		sub := strings.Join(strings.Fields(m.Message.Subject), " ")
		for _, w := range wSubjects {
			if len(w) < len(sub) && strings.HasPrefix(sub, w) {
				sub = w
			}
		}
		gSubjects = append(gSubjects, sub)
		for _, a := range m.Message.Attachments {
			if a.Name == "" || a.Inline {
				continue
			}
			gFiles = append(gFiles, a.Name)
			s := md5.Sum(a.Content)
			gMD5 = append(gMD5, hex.EncodeToString(s[:]))
		}
	}
	for _, f := range []struct {
		what      string
		want, got []string
	}{
		{"DNS query names", wDNS, gDNS},
		{"TLS server names", wSNI, gSNI},
		{"HTTP methods", wMethods, gMethods},
		{"HTTP paths", wPaths, gPaths},
		{"mail subjects", wSubjects, gSubjects},
		{"attachment names", wFiles, gFiles},
		{"attachment MD5s", wMD5, gMD5},
	} {
		if why, ok := arkimeExceptions[filepath.Base(capFile)+" "+f.what]; ok {
			t.Logf("%s not compared: %s", f.what, why)
			continue
		}
		if w, g := set(f.want), set(f.got); !slices.Equal(w, g) {
			t.Errorf("%s: Arkime %q, aclog %q", f.what, w, g)
		}
	}
}

// checkArkimeCounts finds the session Arkime describes and compares the
// packets and bytes (whole frames) each way.
func checkArkimeCounts(t *testing.T, s arkimeSession, c *collector) {
	t.Helper()
	b := &s.Body
	src, err1 := netip.ParseAddr(b.Source.IP)
	dst, err2 := netip.ParseAddr(b.Destination.IP)
	if err1 != nil || err2 != nil {
		t.Fatalf("Arkime session addresses %q %q", b.Source.IP, b.Destination.IP)
	}
	cl, sv := netip.AddrPortFrom(src, b.Source.Port), netip.AddrPortFrom(dst, b.Destination.Port)
	// Arkime keeps one session per 5-tuple; aclog ends a UDP session
	// after each DNS exchange, so its sessions on the tuple are summed.
	var sum Session
	n := 0
	for _, x := range c.sessions {
		if x.Client == cl && x.Server == sv {
			n++
			sum.ClientPackets += x.ClientPackets
			sum.ClientBytes += x.ClientBytes
			sum.ServerPackets += x.ServerPackets
			sum.ServerBytes += x.ServerBytes
		}
	}
	if n == 0 {
		t.Errorf("no aclog session %v -> %v (Arkime: %v)", cl, sv, b.Protocol)
		return
	}
	if sum.ClientPackets != b.Source.Packets || sum.ClientBytes != b.Source.Bytes ||
		sum.ServerPackets != b.Destination.Packets || sum.ServerBytes != b.Destination.Bytes {
		t.Errorf("session %v -> %v (%d in aclog): aclog %d pkts %d B / %d pkts %d B, Arkime %d/%d / %d/%d", cl, sv, n,
			sum.ClientPackets, sum.ClientBytes, sum.ServerPackets, sum.ServerBytes,
			b.Source.Packets, b.Source.Bytes, b.Destination.Packets, b.Destination.Bytes)
	}
}

// set sorts and deduplicates.
func set(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
