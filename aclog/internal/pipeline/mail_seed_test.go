package pipeline_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/pipeline"
)

// tsharkIMF returns the messages tshark shows in pcap (its IMF), each as
// the IP total length of the frame it shows it in and its Message-ID.
func tsharkIMF(t *testing.T, pcap string) [][2]string {
	t.Helper()
	out, err := exec.Command("tshark", "-r", pcap, "-Y", "imf", "-T", "fields",
		"-e", "ip.len", "-e", "ipv6.plen", "-e", "imf.message_id").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", pcap, err)
	}
	var msgs [][2]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			continue
		}
		l := f[0]
		if l == "" { // IPv6: ipv6.plen is the payload after the 40-byte header
			n, _ := strconv.Atoi(f[1])
			l = strconv.Itoa(40 + n)
		}
		msgs = append(msgs, [2]string{l, f[2]})
	}
	return msgs
}

// compareIPLen compares the len of the M rows of one SMTP capture with
// tshark: by Message-ID, or, when both see one message, that one. It
// returns how many rows it compared.
func compareIPLen(t *testing.T, name string, rows []map[string]string, imf [][2]string) int {
	var msgs []map[string]string
	for _, r := range rows {
		if r["command"] != "STARTTLS" {
			msgs = append(msgs, r)
		}
	}
	if len(msgs) == 1 && len(imf) == 1 {
		if msgs[0]["len"] != imf[0][0] {
			t.Errorf("%s: len %s, tshark's ip.len %s", name, msgs[0]["len"], imf[0][0])
		}
		return 1
	}
	n := 0
	for _, m := range imf {
		for _, r := range msgs {
			if m[1] != "" && r["message_id"] == m[1] {
				n++
				if r["len"] != m[0] {
					t.Errorf("%s %s: len %s, tshark's ip.len %s", name, m[1], r["len"], m[0])
				}
			}
		}
	}
	return n
}

// TestMailSeedMeanings: M rows mean what the old mail tables meant. len is the IP
// total length of the packet that completed the message, the frame where
// tshark shows it (ip.len); file_path is the capture file the row came
// from; insert_time the day the row was stored; image_sign 1 for a message
// with an image; parse_sign 1 for a message parsed and stored, 0 for a
// malformed one and for an encrypted (STARTTLS) session. acstore's detail
// is in columns of its own: msg_size, attachments, parse_status.
func TestMailSeedMeanings(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark is not installed (CI=true; scripts/deps.sh installs it)")
		}
		t.Skip("tshark is not installed")
	}
	var files []string
	for _, g := range []string{"smtp/*.pcap", "imap/imap.pcap"} {
		m, _ := filepath.Glob(pcapDir + g)
		files = append(files, m...)
	}
	stored := time.Date(2031, 5, 6, 7, 8, 9, 0, time.Local)
	root := t.TempDir()
	runFiles(t, root, func(c *pipeline.Config) { c.Record.Now = func() time.Time { return stored } }, files...)
	rows := readRows(t, root, 'M')

	byFile := map[string][]map[string]string{}
	for _, r := range rows {
		byFile[r["file_path"]] = append(byFile[r["file_path"]], r)
	}
	compared := 0
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		if strings.Contains(f, "/smtp/") {
			// tshark shows an SMTP message in the frame that ends its
			// DATA; IMAP FETCH replies it dissects segment by segment.
			compared += compareIPLen(t, filepath.Base(f), byFile[abs], tsharkIMF(t, f))
		}
		delete(byFile, abs)
	}
	for path := range byFile {
		t.Errorf("file_path %q is not one of the captures read", path)
	}
	images, malformed, encrypted := 0, 0, 0
	for _, r := range rows {
		if r["insert_time"] != "2031-05-06" {
			t.Errorf("insert_time %q, want the day the row was stored", r["insert_time"])
		}
		image := strings.Contains(r["attachments"], " image/")
		if image {
			images++
		}
		if r["image_sign"] != map[bool]string{true: "1", false: "0"}[image] {
			t.Errorf("%s: image_sign %s with attachments %q", r["message_id"], r["image_sign"], r["attachments"])
		}
		wantSign := map[string]string{"ok": "1", "partial": "1", "malformed": "0", "encrypted": "0"}[r["parse_status"]]
		if wantSign == "" || r["parse_sign"] != wantSign {
			t.Errorf("%s: parse_status %q, parse_sign %s", r["message_id"], r["parse_status"], r["parse_sign"])
		}
		switch r["parse_status"] {
		case "malformed":
			malformed++
		case "encrypted":
			encrypted++
			if r["command"] != "STARTTLS" {
				t.Errorf("encrypted row for command %s", r["command"])
			}
		}
		if n, err := strconv.Atoi(r["msg_size"]); r["command"] != "STARTTLS" && (err != nil || n == 0) {
			t.Errorf("%s: msg_size %q", r["message_id"], r["msg_size"])
		}
	}
	// The captures hold, among others, IMG_20201225_085941.jpeg in
	// smtp-decrypted.pcap, and STARTTLS sessions. imap.pcap's header-only
	// FETCHes of multipart messages are partial, not malformed; a
	// malformed message is in TestLiveMail.
	for _, c := range []struct {
		name     string
		got, min int
	}{{"rows compared with tshark's ip.len", compared, 10}, {"messages with an image", images, 1},
		{"STARTTLS sessions", encrypted, 1}} {
		if c.got < c.min {
			t.Errorf("%s: %d, want at least %d", c.name, c.got, c.min)
		}
	}
	if malformed != 0 {
		t.Errorf("%d malformed messages, want 0", malformed)
	}
}
