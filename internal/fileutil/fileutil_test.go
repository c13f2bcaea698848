package fileutil_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/acstore/acstore/internal/fileutil"
)

// TestPublish: a file appears whole at Commit and not before; Abort and a
// failed write leave nothing; a published file replaces the old one.
func TestPublish(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	tmp := filepath.Join(dir, "tmp")
	if err := fileutil.WriteFile(path, tmp, []byte("old")); err != nil {
		t.Fatal(err)
	}
	f, err := fileutil.Create(path, tmp)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new, longer"))
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("before Commit the path holds %q, want the old file", b)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new, longer" {
		t.Errorf("after Commit the path holds %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	g, err := fileutil.Create(path, tmp)
	if err != nil {
		t.Fatal(err)
	}
	g.Write([]byte("never"))
	g.Abort()
	if b, _ := os.ReadFile(path); string(b) != "new, longer" {
		t.Errorf("after Abort the path holds %q", b)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := fileutil.WriteFile(filepath.Join(dir, "missing", "x"), tmp, []byte("x")); err != nil {
		t.Errorf("publishing into a missing directory: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "missing", "x")); string(b) != "x" {
		t.Errorf("published into a missing directory: %q", b)
	}
	if err := fileutil.WriteFile(filepath.Join(path, "y"), tmp, nil); err == nil {
		t.Error("publishing under a file succeeded")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left after a failed publish: %v", left)
	}
}
