package rollup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/logfile"
)

// state records which sync_files (name and size) have been rolled up: one
// file per day under the state directory, "<name> <size>" a line, replaced
// atomically (fileutil.WriteFileFS) after each block. So a crash leaves
// the record of the last finished block, never a torn one, and it costs one
// fsync per block rather than one per sync_file (a block has up to 48).
type state struct {
	fsys fileutil.FS // fileutil.OS; a fileutil.CutFS in power-cut tests
	dir  string
	days map[string]map[string]int64 // day -> file name -> size
}

const stateExt = ".done"

func openState(dir string) (*state, error) { return openStateFS(fileutil.OS, dir) }

func openStateFS(fsys fileutil.FS, dir string) (*state, error) {
	if err := fileutil.MkdirAllFS(fsys, dir); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	s := &state{fsys: fsys, dir: dir, days: make(map[string]map[string]int64)}
	paths, err := filepath.Glob(filepath.Join(dir, "*"+stateExt))
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		day := strings.TrimSuffix(filepath.Base(p), stateExt)
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		files := make(map[string]int64)
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			name, size, ok := strings.Cut(sc.Text(), " ")
			n, err := strconv.ParseInt(size, 10, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("state %s: bad line %q", p, sc.Text())
			}
			files[name] = n
		}
		s.days[day] = files
	}
	return s, nil
}

// has reports whether the file was rolled up at this size.
func (s *state) has(n logfile.Name, size int64) bool {
	got, ok := s.days[n.Day()][n.String()]
	return ok && got == size
}

// record adds files of one day and writes that day's record.
func (s *state) record(day string, files []pendingFile) error {
	m := s.days[day]
	if m == nil {
		m = make(map[string]int64)
		s.days[day] = m
	}
	for _, f := range files {
		m[f.n.String()] = f.size
	}
	var b bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s %d\n", name, m[name])
	}
	if err := fileutil.WriteFileFS(s.fsys, filepath.Join(s.dir, day+stateExt), filepath.Join(s.dir, ".tmp"), b.Bytes()); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// recordedDays lists the days with a record.
func (s *state) recordedDays() []string { return slices.Sorted(maps.Keys(s.days)) }

// forget removes the record of day, durably: once it returns, a power cut
// cannot bring back a record claiming files whose rollups are dropped next.
func (s *state) forget(day string) error {
	err := s.fsys.Remove(filepath.Join(s.dir, day+stateExt))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("state: %w", err)
	}
	if err := fileutil.SyncDirFS(s.fsys, s.dir); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	delete(s.days, day)
	return nil
}
