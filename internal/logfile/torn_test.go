package logfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
)

// TestTornFile cuts a finished sync_file at every length and checks that the
// reader returns only complete rows, a prefix of the file's rows, and
// reports the cut.
func TestTornFile(t *testing.T) {
	for _, codec := range []logfile.Codec{logfile.LZ4, logfile.XZ} {
		t.Run(codec.String(), func(t *testing.T) {
			root := t.TempDir()
			sp := newSpool(t, root, codec)
			tb, _ := schema.ByLetter('U')
			g := rowgen.New(3, true)
			for f := 0; f < 4; f++ {
				for i := 0; i < 25; i++ {
					if err := g.Row(sp, tb, t0); err != nil {
						t.Fatal(err)
					}
				}
				if err := sp.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			sp.Close()
			path := logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'U'}.Path(root)
			full, err := readAll(t, path, logfile.LZ4)
			if err != nil || len(full) != 100 {
				t.Fatalf("%d rows, %v", len(full), err)
			}
			data, _ := os.ReadFile(path)
			step := max(1, len(data)/400)
			torn := filepath.Join(t.TempDir(), "torn.dat")
			sawPartialFrame := false
			for cut := 0; cut < len(data); cut += step {
				os.WriteFile(torn, data[:cut], 0o644)
				rows, err := readAll(t, torn, logfile.LZ4)
				if cut > 0 && err == nil {
					t.Fatalf("cut at %d of %d: no error reported", cut, len(data))
				}
				var ce *logfile.CorruptionError
				if cut > 0 && !errors.As(err, &ce) {
					t.Fatalf("cut at %d: error %v is not a *CorruptionError", cut, err)
				}
				if len(rows) > len(full) {
					t.Fatalf("cut at %d: %d rows > %d", cut, len(rows), len(full))
				}
				for i := range rows {
					if rows[i] != full[i] {
						t.Fatalf("cut at %d: row %d differs: %q", cut, i, rows[i])
					}
				}
				if len(rows)%25 != 0 {
					sawPartialFrame = true
				}
			}
			t.Logf("partial frames yielded complete rows: %v", sawPartialFrame)
		})
	}
}

// TestGarbage feeds files that are not sync_files.
func TestGarbage(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"random":    []byte("\x13\x99 this is not a sync file at all"),
		"lz4-magic": append([]byte{0x04, 0x22, 0x4d, 0x18}, bytes.Repeat([]byte{0xff}, 100)...),
		"xz-magic":  append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, bytes.Repeat([]byte{0x01}, 100)...),
	}
	for name, data := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		rows, err := readAll(t, p, logfile.LZ4)
		var ce *logfile.CorruptionError
		if !errors.As(err, &ce) || len(rows) != 0 {
			t.Errorf("%s: rows %d, err %v; want 0 rows and a *CorruptionError", name, len(rows), err)
		}
	}
}

// TestKillWriter kills a writing process with SIGKILL at several moments and
// checks that the sync_file's complete frames are all read back, and that
// the next Spool seals the file and owes a backfill.
func TestKillWriter(t *testing.T) {
	if os.Getenv("ACSTORE_WRITER_CHILD") != "" {
		writerChild()
		return
	}
	for i, delay := range []time.Duration{30 * time.Millisecond, 120 * time.Millisecond, 333 * time.Millisecond} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			root := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestKillWriter$")
			cmd.Env = append(os.Environ(), "ACSTORE_WRITER_CHILD="+root)
			// The child prints the number of rows of each fsynced frame.
			outPath := filepath.Join(t.TempDir(), "out")
			out, err := os.Create(outPath)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			cmd.Stdout = out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The delay counts from its first frame: a loaded machine may
			// take longer than the delay to start the child at all.
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
				if st, err := out.Stat(); err == nil && st.Size() > 0 || time.Now().After(deadline) {
					break
				}
			}
			time.Sleep(delay)
			cmd.Process.Kill()
			cmd.Wait()
			printed, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatal(err)
			}
			var flushed int
			for _, l := range strings.Fields(string(printed)) {
				n, _ := strconv.Atoi(l)
				flushed = n
			}
			part := logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'A'}.Path(root) + ".part"
			rows, err := readAll(t, part, logfile.LZ4)
			var ce *logfile.CorruptionError
			if err != nil && !errors.As(err, &ce) {
				t.Fatal(err)
			}
			if len(rows) < flushed {
				t.Fatalf("only %d rows read back, %d were fsynced", len(rows), flushed)
			}
			for j, r := range rows {
				if id, _ := logfile.RowID([]byte(r)); id&(1<<40-1) != uint64(j) {
					t.Fatalf("row %d has id %d: rows are not a gapless prefix", j, id)
				}
			}
			sp := newSpool(t, root, logfile.LZ4)
			if st := sp.Stats(); st.Recovered != 1 || st.Backfills != 1 {
				t.Errorf("after restart: recovered %d, backfills %d; want 1 and 1", st.Recovered, st.Backfills)
			}
			sealed, err := readAll(t, strings.TrimSuffix(part, ".part"), logfile.LZ4)
			if err != nil || len(sealed) != len(rows) {
				t.Errorf("sealed file: %d rows (%v), want %d", len(sealed), err, len(rows))
			}
			t.Logf("killed after %v: %d rows fsynced, %d read back", delay, flushed, len(rows))
		})
	}
}

func writerChild() {
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: os.Getenv("ACSTORE_WRITER_CHILD"), Gateway: gw, MaxFrameBytes: 1 << 30})
	if err != nil {
		panic(err)
	}
	tb, _ := schema.ByLetter('A')
	g := rowgen.New(4, true)
	for n := 1; ; n++ {
		if err := g.Row(sp, tb, t0); err != nil {
			panic(err)
		}
		if n%200 == 0 {
			if err := sp.Flush(); err != nil {
				panic(err)
			}
			fmt.Println(n)
		}
	}
}
