package pipeline_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/capture"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// bundledCaptures lists every capture under testdata/pcaps with the time
// of its first packet, oldest first.
func bundledCaptures(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("../../testdata/pcaps", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".pcap" || ext == ".pcapng") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("only %d bundled captures found", len(files))
	}
	return files
}

// rowSet reads every row of every published sync_file as "file name: row
// without its id", counted.
func rowSet(t *testing.T, root string) map[string]int {
	t.Helper()
	rows := map[string]int{}
	err := logfile.WalkSync(root, func(path string, n logfile.Name) error {
		if n.Table == schema.Attachments {
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
			_, row, ok := bytes.Cut(sc.Bytes(), []byte("\t"))
			if !ok {
				return fmt.Errorf("%s: a row without fields: %q", path, sc.Text())
			}
			rows[n.String()+": "+string(row)]++
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return rs.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func diffRows(t *testing.T, what string, want, got map[string]int) {
	t.Helper()
	var lines []string
	for r, n := range want {
		if got[r] != n {
			lines = append(lines, fmt.Sprintf("  want %d, got %d: %.200s", n, got[r], r))
		}
	}
	for r, n := range got {
		if _, ok := want[r]; !ok {
			lines = append(lines, fmt.Sprintf("  want 0, got %d: %.200s", n, r))
		}
	}
	if len(lines) > 0 {
		slices.Sort(lines)
		t.Errorf("%s: %d rows differ from the files read in time order:\n%s", what, len(lines), strings.Join(lines[:min(len(lines), 20)], "\n"))
	}
}

// TestFileOrder: the bundled captures read in any order give the same rows
// (ids aside): each row carries its own packets' time and lands in its own
// window and day, even after a newer capture (issue 17, item 1).
func TestFileOrder(t *testing.T) {
	files := bundledCaptures(t)
	first := map[string]time.Time{}
	for _, f := range files {
		first[f] = firstPacketTime(t, f)
	}
	slices.SortFunc(files, func(a, b string) int { return first[a].Compare(first[b]) })
	root := t.TempDir()
	runFiles(t, root, nil, files...)
	want := rowSet(t, root)
	if len(want) < 500 {
		t.Fatalf("only %d distinct rows from %d captures", len(want), len(files))
	}

	seed := uint64(time.Now().UnixNano())
	shuffled := slices.Clone(files)
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	reversed := slices.Clone(files)
	slices.Reverse(reversed)
	for _, tc := range []struct {
		name  string
		files []string
	}{
		{"newest first", reversed},
		{fmt.Sprintf("shuffled (seed %d)", seed), shuffled},
		// The case: the 2021 mail after the 2022 browsing capture.
		{"tls then smtp", []string{mixed, "../../testdata/pcaps/smtp/smtp-attachment-msg.pcap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			p := runFiles(t, root, nil, tc.files...)
			got := rowSet(t, root)
			if tc.name == "tls then smtp" {
				only := t.TempDir()
				runFiles(t, only, nil, tc.files[1])
				runFiles(t, only, nil, tc.files[0])
				want := rowSet(t, only)
				diffRows(t, tc.name, want, got)
				if n := countTable(got, "20210113_", 'M'); n != 1 {
					t.Errorf("%d M rows in the windows of 2021-01-13, want the one mail", n)
				}
				return
			}
			diffRows(t, tc.name, want, got)
			// Each capture file is read by an engine of its own
			// (capturefile.go), so going back from one file to the next
			// needs no restart; rows above prove the order does not matter.
			if n := p.Snapshot().Skipped; n != 0 {
				t.Errorf("%d captures skipped as processed before, in a fresh data root", n)
			}
		})
	}
}

func countTable(rows map[string]int, prefix string, letter byte) int {
	n := 0
	for r, c := range rows {
		name, _, _ := strings.Cut(r, ": ")
		if strings.HasPrefix(name, prefix) && strings.HasSuffix(name, "_"+string(letter)+logfile.SyncExt) {
			n += c
		}
	}
	return n
}

// firstPacketTime reads the time of a capture's first packet.
func firstPacketTime(t *testing.T, path string) time.Time {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer src.Close()
	_, ci, err := src.ReadPacket()
	if err != nil {
		t.Fatalf("%s: first packet: %v", path, err)
	}
	return ci.Timestamp
}
