package logfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/acstore/acstore/internal/hostile"
	"github.com/acstore/acstore/internal/logfile"
)

// hostileRSS is the peak memory a reader of one hostile file may reach,
// the test binary included (about 10 MiB of it).
const hostileRSS = 64 << 20

// hostileFiles are small files whose headers claim gigabytes, and one that
// expands to 520 MiB without a newline.
var hostileFiles = []struct {
	name string
	make func(path string) error
	want string // in the error
	rows int
}{
	{"xz claiming a 1.5 GiB dictionary", func(p string) error {
		return os.WriteFile(p, hostile.XZDict([]byte("1\tx\n2\ty\n"), 37), 0o644)
	}, "xz dictionary of 1610612736 bytes asked for, more than the 67108864 byte limit", 0},
	{"xz whose second stream claims 1.5 GiB", func(p string) error {
		good := hostile.XZDict([]byte("1\tx\n2\ty\n"), 20) // 4 MiB: fine
		return os.WriteFile(p, append(good, hostile.XZDict([]byte("3\tz\n"), 37)...), 0o644)
	}, "readable up to byte 8 of its rows, then: xz at byte", 2},
	{"xz claiming a 4 GiB dictionary", func(p string) error {
		return os.WriteFile(p, hostile.XZDict([]byte("1\tx\n"), 40), 0o644)
	}, "xz dictionary of 4294967295 bytes asked for", 0},
	{"lz4 row of 520 MiB without a newline", func(p string) error {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return hostile.LZ4Endless(f, 520<<20)
	}, "row longer than the 8388608 byte limit", 0},
	{"lz4 of 1 KB claiming 4 GiB of content", func(p string) error {
		return os.WriteFile(p, hostile.LZ4Claim([]byte("1\tx\n2\ty\n"), 4<<30), 0o644)
	}, "readable up to byte 8 of its rows, then: unexpected EOF", 2},
}

// TestHostileFiles reads each hostile file in a child process (a fresh copy
// of this test binary) and checks the clear error and the child's peak
// memory: what the file claims is never allocated.
func TestHostileFiles(t *testing.T) {
	if c := os.Getenv("ACSTORE_HOSTILE_CASE"); c != "" {
		hostileChild(c)
		return
	}
	for i, c := range hostileFiles {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHostileFiles$", "-test.count=1")
			cmd.Env = append(os.Environ(), "ACSTORE_HOSTILE_CASE="+strconv.Itoa(i)+":"+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`(?m)^hostile: rows=(\d+) peak=(\d+) alloc=(\d+) err=(.*)$`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("child said:\n%s", out)
			}
			rows, _ := strconv.Atoi(string(m[1]))
			peak, _ := strconv.ParseInt(string(m[2]), 10, 64)
			alloc, _ := strconv.ParseInt(string(m[3]), 10, 64)
			msg := string(m[4])
			t.Logf("%s: %d rows, peak RSS %d MiB, %d MiB allocated in all, %s", c.name, rows, peak>>20, alloc>>20, msg)
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want one containing %q", msg, c.want)
			}
			if rows != c.rows {
				t.Errorf("%d rows read, want %d", rows, c.rows)
			}
			if peak > hostileRSS {
				t.Errorf("peak RSS %d MiB, over the %d MiB bound", peak>>20, hostileRSS>>20)
			}
			// RSS alone would not see a claim the reader allocates but
			// never touches (a tiny xz file's dictionary): count what the
			// process allocated at all.
			if alloc > hostileRSS {
				t.Errorf("%d MiB allocated, over the %d MiB bound", alloc>>20, hostileRSS>>20)
			}
		})
	}
}

func hostileChild(spec string) {
	i, dir, _ := strings.Cut(spec, ":")
	n, _ := strconv.Atoi(i)
	path := filepath.Join(dir, "20261121_1300_5F86F7A5_A.dat")
	if err := hostileFiles[n].make(path); err != nil {
		fmt.Println("make:", err)
		os.Exit(1)
	}
	rows, err := countRows(path)
	var le *logfile.LimitError
	if err != nil && !errors.As(err, &le) && !strings.Contains(err.Error(), "EOF") {
		err = fmt.Errorf("not a LimitError: %w", err)
	}
	peak, _ := hostile.PeakRSS(0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("hostile: rows=%d peak=%d alloc=%d err=%v\n", rows, peak, ms.TotalAlloc, err)
}

func countRows(path string) (int, error) {
	s, err := logfile.OpenRows(path, logfile.LZ4)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	rows := logfile.NewRows(s)
	for rows.Next() {
	}
	return rows.Count(), rows.Err()
}

// TestXZGuardPassesRealFiles: the dictionary check follows the structure of
// xz files as the xz tool writes them (several blocks with their sizes in
// the headers, every check type, concatenated streams with padding) and
// lets every row through.
func TestXZGuardPassesRealFiles(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Fatal("xz is not installed (scripts/deps.sh installs it)")
	}
	var rows strings.Builder
	for i := range 50000 {
		fmt.Fprintf(&rows, "%d\thost-%d.example\t%x\n", i, i%977, i*7919)
	}
	want := strings.Count(rows.String(), "\n")
	dir := t.TempDir()
	xzOf := func(args ...string) []byte {
		cmd := exec.Command("xz", append([]string{"-c"}, args...)...)
		cmd.Stdin = strings.NewReader(rows.String())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("xz %v: %v", args, err)
		}
		return out
	}
	one := xzOf("-0", "--check=none")
	cases := map[string][]byte{
		"preset 6, crc64":             xzOf("-6"),
		"sha256 check":                xzOf("-1", "--check=sha256"),
		"blocks of 64 KiB, threaded":  xzOf("-1", "-T2", "--block-size=64KiB"),
		"crc32, dictionary of 64 MiB": xzOf("--lzma2=preset=1,dict=64MiB", "--check=crc32"),
		"two streams with padding":    append(append(append([]byte{}, one...), 0, 0, 0, 0), one...),
	}
	for name, data := range cases {
		path := filepath.Join(dir, "20261121_1300_5F86F7A5_A.dat")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		n, err := countRows(path)
		w := want
		if name == "two streams with padding" {
			w = 2 * want
		}
		if err != nil || n != w {
			t.Errorf("%s: %d rows, %v; want %d rows", name, n, err, w)
		}
	}
}

// FuzzXZGuard: for any rows, the xz file the writer makes (one stream or
// two, split anywhere) reads back the same through the guard; and any
// bytes at all, read as a sync_file, end cleanly or with an error, within
// the limits.
func FuzzXZGuard(f *testing.F) {
	f.Add([]byte("1\tx\n2\ty\n"), uint16(3), []byte{0xfd, '7', 'z', 'X', 'Z', 0})
	f.Add(bytes.Repeat([]byte("row\n"), 5000), uint16(7000), hostile.XZDict([]byte("1\tx\n"), 37))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, rows []byte, cut uint16, junk []byte) {
		if i := bytes.LastIndexByte(rows, '\n'); i >= 0 {
			rows = rows[:i+1]
		} else {
			rows = nil
		}
		k := int(cut) % (len(rows) + 1)
		if i := bytes.LastIndexByte(rows[:k], '\n'); i >= 0 {
			k = i + 1
		} else {
			k = 0
		}
		var file []byte
		for _, part := range [][]byte{rows[:k], rows[k:]} {
			if len(part) > 0 {
				file = append(file, hostile.XZDict(part, 20)...)
			}
		}
		path := filepath.Join(dir, "20261121_1300_5F86F7A5_A.dat")
		if len(file) > 0 {
			os.WriteFile(path, file, 0o644)
			got, err := readRows(path)
			if err != nil || !bytes.Equal(got, rows) {
				t.Fatalf("rows %q read back as %q, %v", rows, got, err)
			}
			if err := logfile.Verify(path, logfile.Limits{}); err != nil {
				t.Fatalf("Verify refused a good file: %v", err)
			}
		}
		os.WriteFile(path, append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, junk...), 0o644)
		readRows(path) // must not panic or allocate past the limits
		logfile.Verify(path, logfile.Limits{})
	})
}

func readRows(path string) ([]byte, error) {
	s, err := logfile.OpenRows(path, logfile.LZ4)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	data, err := io.ReadAll(s)
	if err == nil {
		err = s.Err()
	}
	return data, err
}

// TestRatioCap: a compressed file whose rows expand past MaxRatio times its
// size ends as damage once RatioFloor bytes of rows are out (its rows
// before that are read); real files pass whatever their size.
func TestRatioCap(t *testing.T) {
	dir := t.TempDir()
	rows := func(pattern string, n int) []byte { return bytes.Repeat([]byte(pattern), n/len(pattern)) }
	var real bytes.Buffer
	for i := range 400000 { // ~40 MiB of varied rows: lz4 gets about 3 times
		fmt.Fprintf(&real, "%d\t2026-11-21 13:%02d:%02d\t10.0.%d.%d\t%x\n", i, i/60%60, i%60, i%250, i/250%250, uint64(i)*0x9e3779b97f4a7c15)
	}
	for _, c := range []struct {
		name  string
		data  []byte
		want  string // in the error; "" for none
		ratio int64
	}{
		{"lz4 of 64 MiB of short rows", rows("1\tx\n", 64<<20), "times limit (decompression ratio)", logfile.DefaultMaxRatio},
		{"the same under a higher limit", rows("1\tx\n", 64<<20), "", 1000},
		{"real-like rows", real.Bytes(), "", logfile.DefaultMaxRatio},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "20261121_1300_5F86F7A5_A.dat")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := hostile.LZ4Rows(f, c.data); err != nil {
				t.Fatal(err)
			}
			f.Close()
			fi, _ := os.Stat(path)
			s, err := logfile.OpenRowsLimits(path, logfile.LZ4, logfile.Limits{MaxRatio: c.ratio})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			n, _ := io.Copy(io.Discard, s)
			t.Logf("%d bytes of file, %d bytes of rows read (%d times), err %v", fi.Size(), n, n/fi.Size(), s.Err())
			var le *logfile.LimitError
			switch {
			case c.want == "" && s.Err() != nil:
				t.Errorf("err %v, want none", s.Err())
			case c.want == "" && n != int64(len(c.data)):
				t.Errorf("%d bytes of rows read, want all %d", n, len(c.data))
			case c.want != "" && (!errors.As(s.Err(), &le) || !strings.Contains(s.Err().Error(), c.want)):
				t.Errorf("err %v, want a LimitError containing %q", s.Err(), c.want)
			case c.want != "" && (n < logfile.RatioFloor || n > logfile.RatioFloor+1<<20):
				t.Errorf("%d bytes of rows read before the cut, want about %d", n, logfile.RatioFloor)
			}
		})
	}
}
