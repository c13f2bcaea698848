package pipeline_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acstore/acstore/aclog/internal/pipeline"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/xbundle"
)

// readRows returns the rows of every published sync_file of table letter,
// as maps from column name to value (`\N` for NULL).
func readRows(t *testing.T, root string, letter byte) []map[string]string {
	t.Helper()
	tb, _ := schema.ByLetter(letter)
	cols := tb.FileColumns()
	var out []map[string]string
	err := logfile.WalkSync(root, func(path string, n logfile.Name) error {
		if n.Table != letter {
			return nil
		}
		rs, err := logfile.OpenRows(path, logfile.LZ4)
		if err != nil {
			return err
		}
		defer rs.Close()
		sc := bufio.NewScanner(rs)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			fs, err := logfile.SplitRow(sc.Bytes())
			if err != nil || len(fs) != len(cols) {
				t.Fatalf("%s: row %q: %v (%d fields, want %d)", path, sc.Text(), err, len(fs), len(cols))
			}
			row := map[string]string{}
			for i, c := range cols {
				row[c] = fs[i].String()
			}
			out = append(out, row)
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readBundles returns every content of the X bundles under root by sha256.
func readBundles(t *testing.T, root string) map[string]xbundle.Entry {
	t.Helper()
	out := map[string]xbundle.Entry{}
	paths, _ := filepath.Glob(filepath.Join(root, "sync", gw, "*", "*_X.dat"))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		r, err := xbundle.NewReader(f, fi.Size())
		if err != nil || r.Err() != nil {
			t.Fatalf("%s: %v %v", p, err, r.Err())
		}
		for _, e := range r.Entries() {
			data, err := r.Content(e)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if hex.EncodeToString(sum[:]) != e.Hex() {
				t.Fatalf("%s: entry %s holds other content", p, e.Hex())
			}
			out[e.Hex()] = e
		}
		f.Close()
	}
	if tmp, _ := filepath.Glob(filepath.Join(root, "sync", gw, "*", "*.tmp")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	return out
}

const pcapDir = "../../testdata/pcaps/"

// TestMailRowsAndBundles: M rows carry the decoded fields, and every
// attachment a row points at is in its window's X bundle, byte for byte
// (the sha256s are those of the captures' expected files).
func TestMailRowsAndBundles(t *testing.T) {
	root := t.TempDir()
	p := runFiles(t, root, nil, pcapDir+"smtp/smtp-zip.pcap", pcapDir+"smtp/smtp-decrypted.pcap",
		pcapDir+"smtp/mime-quoted-printable_input.pcap", pcapDir+"smtp/smtp-subject-8859-b.pcap", pcapDir+"ftp/ipv4.pcap",
		pcapDir+"smtp/smtp.pcap", pcapDir+"http/http-post-upload.pcap")
	rows := readRows(t, root, 'M')
	bundles := readBundles(t, root)
	want := map[string]string{ // attachment name -> sha256 (Arkime, Suricata)
		"a.zip":                    "61479904e443b354d4427a51b990c696f731e341e4c63328e07c1a92658ba591",
		"IMG_20201225_085941.jpeg": "1fd56beabe526dfcd7b1b1cf138f028221d425e71d46d4c5086b5a1f934477a4",
		"test.txt":                 "d4584320dd20fc7cb5313340908236bd1df86860440dc21626f30a1964e4e245",
		"related.patch":            "359641873610597882317aee0f72104ed54fe8aa82d6fa323a5418e4529bd3b9",
	}
	found := map[string]bool{}
	subjects := map[string]bool{}
	for _, r := range rows {
		subjects[r["mail_subject"]] = true
		if r["attachments"] == `\N` {
			continue
		}
		for _, line := range strings.Split(r["attachments"], "\n") {
			f := strings.SplitN(line, " ", 4)
			if len(f) != 4 {
				t.Fatalf("attachments line %q", line)
			}
			if f[0] != "-" {
				if _, ok := bundles[f[0]]; !ok {
					t.Errorf("%s points at %s, which no bundle holds", f[3], f[0])
				}
			}
			if sum, ok := want[f[3]]; ok {
				found[f[3]] = true
				if f[0] != sum {
					t.Errorf("%s: sha256 %s, want %s", f[3], f[0], sum)
				}
			}
		}
		if r["proto"] == "smtp" && r["command"] == "STARTTLS" && (r["parse_sign"] != "0" || r["parse_status"] != "encrypted") {
			t.Errorf("STARTTLS row %v", r)
		}
	}
	for name := range want {
		if !found[name] {
			t.Errorf("no M row lists %s", name)
		}
	}
	for _, s := range []string{"zip test", "test å é î ø ü", "Ho ho ho", "test avec pj", "Test message for capture", "SMTP"} {
		if !subjects[s] {
			t.Errorf("no M row with subject %q", s)
		}
	}
	// The FTP transfers: O rows whose content is in the bundle.
	files := readRows(t, root, 'O')
	if len(files) != 2 {
		t.Fatalf("%d O rows, want 2", len(files))
	}
	for _, f := range files {
		if f["file_name"] != "robots.txt" || f["size"] != "77" || f["direction"] != "download" || f["reply"] != "226" {
			t.Errorf("O row %v", f)
		}
		if _, ok := bundles[f["x_ref"]]; !ok {
			t.Errorf("O row points at %s, not in a bundle", f["x_ref"])
		}
	}
	// Credentials: never a password.
	for _, c := range readRows(t, root, 'C') {
		for _, v := range c {
			if strings.Contains(v, "test") && c["proto"] == "ftp" && c["login"] != "anonymous" {
				t.Errorf("C row %v", c)
			}
		}
	}
	// The upload: a P row pointing at its file.
	posts := readRows(t, root, 'P')
	if len(posts) != 1 || !strings.Contains(posts[0]["file_names"], "123.doc(5).exe") || posts[0]["x_ref"] == `\N` {
		t.Errorf("P rows %v", posts)
	} else if e, ok := bundles[posts[0]["x_ref"]]; !ok || e.Name != "123.doc(5).exe" {
		t.Errorf("upload not in the bundle: %+v", e)
	}
	if s := p.Snapshot(); s.Record.XFiles == 0 || s.Record.XBundles == 0 || s.RowErrors != 0 {
		t.Errorf("record stats %+v, row errors %d", s.Record, s.RowErrors)
	}
}

// TestBundleCaps: contents over the per-file cap are not stored and are
// counted; the row says "-".
func TestBundleCaps(t *testing.T) {
	root := t.TempDir()
	p := runFiles(t, root, func(c *pipeline.Config) { c.Record.XMaxFile = 1000 }, pcapDir+"smtp/smtp-zip.pcap", pcapDir+"smtp/mime-quoted-printable_input.pcap")
	s := p.Snapshot().Record
	if s.XCutFile == 0 {
		t.Errorf("nothing cut at a 1000-byte cap: %+v", s)
	}
	for _, r := range readRows(t, root, 'M') {
		if strings.Contains(r["attachments"], "related.patch") && !strings.HasPrefix(r["attachments"], "- ") &&
			!strings.Contains(r["attachments"], "\n- ") {
			t.Errorf("related.patch (34224 bytes) stored despite the cap: %q", r["attachments"])
		}
	}
}

// bundleFile returns the contents of one bundle by sha256.
func bundleFile(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	r, err := xbundle.NewReader(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range r.Entries() {
		data, err := r.Content(e)
		if err != nil {
			t.Fatal(err)
		}
		out[e.Hex()] = data
	}
	return out
}
