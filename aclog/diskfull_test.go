package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/testenv"
)

// TestDiskFullThenRunAgain reads a capture into a data root on a tmpfs
// that fills up: aclog exits 1 saying which capture was not completely
// written and how to resume; after space is freed the same command
// completes it, and the sync_files hold exactly the rows of one clean run.
func TestDiskFullThenRunAgain(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { diskFullThenRunAgain(t, workers) })
	}
}

func diskFullThenRunAgain(t *testing.T, workers int) {
	dir := t.TempDir()
	testenv.Tmpfs(t, dir, "6m")
	aclog, _ := buildTools(t)
	files := genCaptures(t, 120000)[:1]
	root := filepath.Join(dir, "data")
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 5<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(root string) []string {
		return []string{"-r", files[0], "-data", root, "-gateway", testGW, "-stats-interval", "0", "-load-interval", "100ms", "-workers", strconv.Itoa(workers)}
	}
	out, err := exec.Command(aclog, args(root)...).CombinedOutput()
	if err == nil {
		t.Fatalf("aclog succeeded on a full disk:\n%s", out)
	}
	msg := string(out)
	for _, want := range []string{"no space left on device", "rows not written", "stays unfinished", "run the same command again", files[0]} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, lastLines(msg, 5))
		}
	}
	if !strings.Contains(msg, "write_errors=") || strings.Contains(msg, "write_errors=0 ") {
		t.Errorf("the stats line does not count the failed writes:\n%s", lastLines(msg, 3))
	}
	var held, refused, heldAtExit int
	if m := regexp.MustCompile(`: (\d+) rows could not be added to these sync_files:.*; (\d+) more were refused`).FindStringSubmatch(msg); m != nil {
		held, _ = strconv.Atoi(m[1])
		refused, _ = strconv.Atoi(m[2])
	} else {
		t.Errorf("the error does not count the rows held and refused:\n%s", lastLines(msg, 5))
	}
	// The error counts the rows held when the capture failed; at exit
	// the spool tries every window once more, and the space a failed
	// frame gave back can take some of them: the stats line counts those
	// still held, dropped at exit.
	if m := regexp.MustCompile(`msg="aclog stopped".* rows_held=(\d+) `).FindStringSubmatch(msg); m != nil {
		heldAtExit, _ = strconv.Atoi(m[1])
	} else {
		t.Errorf("the stats line at exit does not count the rows held:\n%s", lastLines(msg, 5))
	}
	if heldAtExit > held {
		t.Errorf("%d rows held at exit, more than the %d the error counted", heldAtExit, held)
	}
	written := countRows(syncRows(t, root)) + partRows(t, root)
	os.Remove(ballast)
	if out, err := exec.Command(aclog, args(root)...).CombinedOutput(); err != nil {
		t.Fatalf("the same command after freeing space: %v\n%s", err, out)
	}
	clean := t.TempDir()
	if out, err := exec.Command(aclog, args(clean)...).CombinedOutput(); err != nil {
		t.Fatalf("clean run: %v\n%s", err, out)
	}
	want := syncRows(t, clean)
	sameRows(t, "sync_files", syncRows(t, root), want)
	// Each row of a clean run was written, held at exit or refused by the
	// run on the full disk, and none is counted twice: a row held when its
	// frame failed and written later is not refused as well.
	t.Logf("full disk: %d rows written, %d held (%d at exit), %d refused", written, held, heldAtExit, refused)
	if all := countRows(want); written+heldAtExit+refused != all {
		t.Errorf("full disk: %d rows written + %d held at exit + %d refused = %d, one clean run has %d:\n%s",
			written, heldAtExit, refused, written+heldAtExit+refused, all, lastLines(msg, 5))
	}
}

// partRows counts the rows in the sync_files not yet published (.part).
func partRows(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dataroot.Root(root).Sync(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, logfile.SyncExt+".part") {
			return err
		}
		st, err := logfile.StatFile(path, logfile.LZ4)
		n += st.Rows
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func countRows(files map[string][]string) int {
	n := 0
	for _, rows := range files {
		n += len(rows)
	}
	return n
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
