package xbundle_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/acstore/acstore/internal/xbundle"
)

type file struct{ name, typ string }

// sample returns contents of several kinds: compressible, random (stored
// as is), empty, and a duplicate.
func sample() ([]file, [][]byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 70000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("Subject: quarterly report\r\nattached.\r\n"), 3000)
	files := []file{{"report.txt", "text/plain"}, {"photo.jpg", "image/jpeg"}, {"empty", ""}, {"copy of report.txt", "text/plain"}, {"名字\x00\xff.bin", "application/octet-stream"}}
	return files, [][]byte{text, random, {}, text, []byte("small")}
}

func write(t *testing.T, path string, close bool) [][32]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := xbundle.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	files, contents := sample()
	var sums [][32]byte
	for i, fl := range files {
		s, err := w.Add(fl.name, fl.typ, contents[i])
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, s)
	}
	if close {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return sums
}

// TestRoundTrip: every distinct content unpacks byte-identical under its
// sha256, with and without the index, and a duplicate is stored once.
func TestRoundTrip(t *testing.T) {
	for _, withIndex := range []bool{true, false} {
		dir := t.TempDir()
		path := filepath.Join(dir, "20261121_1300_5F86F7A5_X.dat")
		sums := write(t, path, withIndex)
		out := filepath.Join(dir, "out")
		res, err := xbundle.Unpack(path, out, xbundle.Limits{})
		if err != nil {
			t.Fatalf("index=%v: %v", withIndex, err)
		}
		if n := res.Entries; n != 4 {
			t.Errorf("index=%v: unpacked %d contents, want 4 (one duplicate)", withIndex, n)
		}
		_, contents := sample()
		for i, s := range sums {
			got, err := os.ReadFile(filepath.Join(out, hex.EncodeToString(s[:])))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, contents[i]) || sha256.Sum256(got) != s {
				t.Errorf("index=%v: content %d differs after unpacking", withIndex, i)
			}
		}
		f, _ := os.Open(path)
		fi, _ := f.Stat()
		r, err := xbundle.NewReader(f, fi.Size())
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Entries(); len(got) != 4 || got[4-1].Name != "名字\x00\xff.bin" || got[1].Type != "image/jpeg" {
			t.Errorf("index=%v: entries %+v", withIndex, got)
		}
		f.Close()
		// Unpacking again writes nothing new.
		if res, err := xbundle.Unpack(path, out, xbundle.Limits{}); res.Entries != 0 || err != nil {
			t.Errorf("second unpack wrote %d, err %v", res.Entries, err)
		}
	}
}

// TestTorn cuts the bundle at every few bytes: the reader returns exactly
// the entries that are complete before the cut, never a damaged one.
func TestTorn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b")
	write(t, path, true)
	full, _ := os.ReadFile(path)
	// Offsets where each entry ends, from a scan of the unindexed file.
	r, _ := xbundle.NewReader(bytes.NewReader(full), int64(len(full)))
	all := r.Entries()
	for cut := 9; cut < len(full); cut += 97 {
		b, err := xbundle.NewReader(bytes.NewReader(full[:cut]), int64(cut))
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		for _, e := range b.Entries() {
			if _, err := b.Content(e); err != nil {
				t.Fatalf("cut %d: a listed entry does not read: %v", cut, err)
			}
		}
		if len(b.Entries()) < len(all) {
			var ce *xbundle.CorruptionError
			if !errors.As(b.Err(), &ce) {
				t.Fatalf("cut %d: %d of %d entries and no CorruptionError (%v)", cut, len(b.Entries()), len(all), b.Err())
			}
		}
	}
}

// TestDamage flips a byte inside compressed data: Unpack refuses the
// bundle with a ContentError and writes no file at all, not even for the
// good entries.
func TestDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b")
	sums := write(t, path, true)
	data, _ := os.ReadFile(path)
	i := bytes.Index(data, []byte("XENT"))
	data[i+200] ^= 0xff // inside the first entry's data
	os.WriteFile(path, data, 0o644)
	out := filepath.Join(dir, "out")
	_, err := xbundle.Unpack(path, out, xbundle.Limits{})
	var ce *xbundle.ContentError
	if !errors.As(err, &ce) || ce.Entry != hex.EncodeToString(sums[0][:]) {
		t.Fatalf("damaged entry: %v, want a ContentError for entry %x", err, sums[0])
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 { // b, and not even out
		t.Errorf("left behind in %s: %v", dir, left)
	}
	if _, err := xbundle.NewReader(bytes.NewReader([]byte("not a bundle")), 12); err == nil {
		t.Error("garbage accepted as a bundle")
	}
}
