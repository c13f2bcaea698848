package logfile_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testenv"
)

const gw = "5F86F7A5"

var t0 = time.Date(2026, 11, 21, 13, 0, 30, 0, time.Local)

func newSpool(t testing.TB, root string, codec logfile.Codec) *logfile.Spool {
	t.Helper()
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// readAll returns the rows of a file and the reader's error.
func readAll(t testing.TB, path string, codec logfile.Codec) ([]string, error) {
	t.Helper()
	s, err := logfile.OpenRows(path, codec)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rows := logfile.NewRows(s)
	var out []string
	for rows.Next() {
		out = append(out, string(rows.Row()))
	}
	return out, rows.Err()
}

func TestNames(t *testing.T) {
	n := logfile.Name{Window: time.Date(2010, 11, 30, 15, 15, 0, 0, time.Local), Gateway: gw, Table: 'Q'}
	if got, want := n.String(), "20101130_1515_5F86F7A5_Q.dat"; got != want {
		t.Errorf("name %q, want %q (the seed's example)", got, want)
	}
	back, err := logfile.ParseName(n.String(), time.Local)
	if err != nil || !back.Window.Equal(n.Window) || back != (logfile.Name{Window: back.Window, Gateway: gw, Table: 'Q'}) {
		t.Errorf("ParseName(%q) = %v, %v", n, back, err)
	}
	if got := n.DayTable(); got != "Q20101130" {
		t.Errorf("day table %q", got)
	}
	for _, bad := range []string{
		"20101130_1515_5F86F7A5_Q.txt", "20101130_1517_5F86F7A5_Q.dat", "20101130_1515_5f86f7a5_Q.dat",
		"20101130_1515_5F86F7A5_Z.dat", "../20101130_1515_5F86F7A5_Q.dat", "20101330_1515_5F86F7A5_Q.dat",
		"20101130_1515_5F86F7A_Q.dat",
	} {
		if _, err := logfile.ParseName(bad, time.Local); err == nil {
			t.Errorf("ParseName(%q) accepted a bad name", bad)
		}
	}
	ln := logfile.LoadName{Sync: n, FirstID: logfile.MakeID(n, 7)}
	back2, err := logfile.ParseLoadName(ln.String(), time.Local)
	if err != nil || back2.FirstID != ln.FirstID || back2.Sync.String() != n.String() {
		t.Errorf("ParseLoadName(%q) = %v, %v", ln, back2, err)
	}
}

func TestEncoderRoundTrip(t *testing.T) {
	var e logfile.Encoder
	for _, s := range rowgen.Nasty {
		e.Str(s)
	}
	e.Null().Str("")
	fields, err := logfile.SplitRow(e.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != len(rowgen.Nasty)+2 {
		t.Fatalf("%d fields, want %d", len(fields), len(rowgen.Nasty)+2)
	}
	for i, s := range rowgen.Nasty {
		if fields[i].Null || string(fields[i].Value) != s {
			t.Errorf("field %d = %q, want %q", i, fields[i].Value, s)
		}
	}
	if !fields[len(fields)-2].Null || fields[len(fields)-1].Null {
		t.Errorf("NULL and empty string not told apart: %v", fields[len(fields)-2:])
	}
	if bytes.ContainsAny(e.Bytes(), "\n\x00") {
		t.Errorf("encoded row holds a raw newline or NUL: %q", e.Bytes())
	}
}

// TestEncoderTime: times are written as time.Format writes TimeLayout,
// in the time's own location, whatever the time written before (the
// encoder keeps the text of the last second).
func TestEncoderTime(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 1, 5, 59, 59, 999_999_999, time.UTC) // New York leaves DST at 06:00 UTC
	times := []time.Time{
		base, base, base.Add(time.Nanosecond), base.Add(-time.Microsecond),
		base.In(shanghai), base.In(ny), base.Add(time.Nanosecond).In(ny), base.Add(time.Hour).In(ny),
		base.Add(123_456 * time.Nanosecond).In(time.Local), base.In(shanghai),
		time.Date(1999, 12, 31, 23, 59, 59, 1000, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 7000, time.UTC), time.Unix(0, 0).UTC(),
	}
	var e logfile.Encoder
	for i, ts := range times {
		e.Reset()
		e.Time(ts)
		if got, want := string(e.Bytes()), ts.Format(logfile.TimeLayout); got != want {
			t.Errorf("time %d: %q, want %q", i, got, want)
		}
	}
}

// TestSpoolFiles writes rows of every table through several flushes and
// checks the sync_files and load_files hold exactly those rows, and that the
// standard tools read the sync_files.
func TestSpoolFiles(t *testing.T) {
	for _, codec := range []logfile.Codec{logfile.LZ4, logfile.XZ} {
		t.Run(codec.String(), func(t *testing.T) {
			root := t.TempDir()
			sp := newSpool(t, root, codec)
			g := rowgen.New(1, true)
			const flushes, perFlush = 5, 40
			for f := 0; f < flushes; f++ {
				for i := 0; i < perFlush; i++ {
					for _, tb := range schema.LogTables() {
						if err := g.Row(sp, tb, t0.Add(time.Duration(f*perFlush+i)*time.Second)); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := sp.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if err := sp.Close(); err != nil {
				t.Fatal(err)
			}
			loads, _ := filepath.Glob(filepath.Join(logfile.LoadDir(root), "*"+logfile.LoadExt))
			for _, tb := range schema.LogTables() {
				n := logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: tb.Letter}
				syncRows, err := readAll(t, n.Path(root), logfile.LZ4)
				if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
				if len(syncRows) != flushes*perFlush {
					t.Fatalf("%s: %d rows, want %d", n, len(syncRows), flushes*perFlush)
				}
				var loadRows []string
				var names []string
				for _, l := range loads {
					if strings.HasPrefix(filepath.Base(l), strings.TrimSuffix(n.String(), ".dat")+"_") {
						names = append(names, l)
					}
				}
				if len(names) != flushes {
					t.Fatalf("%s: %d load_files, want one per flush (%d)", n, len(names), flushes)
				}
				sort.Strings(names)
				for _, l := range names {
					r, err := readAll(t, l, logfile.Plain)
					if err != nil {
						t.Fatal(err)
					}
					loadRows = append(loadRows, r...)
				}
				if strings.Join(loadRows, "\n") != strings.Join(syncRows, "\n") {
					t.Errorf("%s: load_files (in name order) and sync_file differ", n)
				}
				ids := map[uint64]bool{}
				for _, r := range syncRows {
					id, err := logfile.RowID([]byte(r))
					if err != nil || ids[id] {
						t.Fatalf("%s: bad or repeated id in %q: %v", n, r, err)
					}
					ids[id] = true
					fields, err := logfile.SplitRow([]byte(r))
					if err != nil || len(fields) != tb.FieldCount() {
						t.Fatalf("%s: row has %d fields, want %d: %v", n, len(fields), tb.FieldCount(), err)
					}
				}
				checkTool(t, codec, n.Path(root), len(syncRows))
			}
		})
	}
}

// checkTool decompresses with `lz4 -dc` or `xz -dc` and counts lines.
func checkTool(t *testing.T, codec logfile.Codec, path string, want int) {
	t.Helper()
	tool := map[logfile.Codec]string{logfile.LZ4: "lz4", logfile.XZ: "xz"}[codec]
	out, err := exec.Command(testenv.Tool(t, tool), "-dc", path).Output()
	if err != nil {
		t.Fatalf("%s -dc %s: %v", tool, path, err)
	}
	if got := bytes.Count(out, []byte("\n")); got != want {
		t.Errorf("%s -dc | wc -l = %d, reader counts %d", tool, got, want)
	}
}

// TestMultiFrameReadPaths reads a many-frame file through every path the
// project uses: Read, io.Copy (which would use WriteTo, broken in pierrec/lz4
// issue 257), bufio, and io.ReadAll.
func TestMultiFrameReadPaths(t *testing.T) {
	for _, codec := range []logfile.Codec{logfile.LZ4, logfile.XZ} {
		t.Run(codec.String(), func(t *testing.T) {
			root := t.TempDir()
			sp := newSpool(t, root, codec)
			tb, _ := schema.ByLetter('Q')
			g := rowgen.New(2, false)
			const frames = 30
			for f := 0; f < frames; f++ {
				for i := 0; i < 100; i++ {
					if err := g.Row(sp, tb, t0); err != nil {
						t.Fatal(err)
					}
				}
				if err := sp.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if err := sp.Close(); err != nil {
				t.Fatal(err)
			}
			path := logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'Q'}.Path(root)
			paths := map[string]func(io.Reader) ([]byte, error){
				"ReadAll": io.ReadAll,
				"Copy": func(r io.Reader) ([]byte, error) {
					var b bytes.Buffer
					_, err := io.Copy(&b, r)
					return b.Bytes(), err
				},
				"ReadFrom": func(r io.Reader) ([]byte, error) {
					var b bytes.Buffer
					_, err := b.ReadFrom(r)
					return b.Bytes(), err
				},
			}
			for name, read := range paths {
				s, err := logfile.OpenRows(path, logfile.LZ4)
				if err != nil {
					t.Fatal(err)
				}
				data, err := read(s)
				s.Close()
				if err != nil || s.Err() != nil {
					t.Fatalf("%s: %v %v", name, err, s.Err())
				}
				if got := bytes.Count(data, []byte("\n")); got != frames*100 {
					t.Errorf("%s read %d rows of %d", name, got, frames*100)
				}
			}
			checkTool(t, codec, path, frames*100)
		})
	}
}

// TestReopen: rows for a window already published (late rows) reopen it and
// continue its ids.
func TestReopen(t *testing.T) {
	root := t.TempDir()
	sp := newSpool(t, root, logfile.LZ4)
	tb, _ := schema.ByLetter('F')
	g := rowgen.New(5, false)
	for i := 0; i < 10; i++ {
		g.Row(sp, tb, t0)
	}
	if err := sp.Advance(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		g.Row(sp, tb, t0)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := readAll(t, logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'F'}.Path(root), logfile.LZ4)
	if err != nil || len(rows) != 15 {
		t.Fatalf("%d rows, %v; want 15", len(rows), err)
	}
	last, _ := logfile.RowID([]byte(rows[14]))
	if last&(1<<40-1) != 14 {
		t.Errorf("last id seq %d, want 14", last&(1<<40-1))
	}
}

func FuzzOpenRows(f *testing.F) {
	root := f.TempDir()
	sp := newSpool(f, root, logfile.LZ4)
	tb, _ := schema.ByLetter('Q')
	g := rowgen.New(6, true)
	for i := 0; i < 5; i++ {
		g.Row(sp, tb, t0)
	}
	sp.Close()
	seed, _ := os.ReadFile(logfile.Name{Window: logfile.WindowStart(t0), Gateway: gw, Table: 'Q'}.Path(root))
	f.Add(seed)
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0})
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.dat")
		os.WriteFile(p, data, 0o644)
		s, err := logfile.OpenRows(p, logfile.LZ4)
		if err != nil {
			return
		}
		defer s.Close()
		rows := logfile.NewRows(s)
		for rows.Next() {
			if bytes.IndexByte(rows.Row(), '\n') >= 0 {
				t.Fatal("row holds a newline")
			}
		}
	})
}
