package xbundle_test

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/acstore/acstore/internal/xbundle"
)

// FuzzReader builds a bundle from fuzzed contents, cuts it at a fuzzed
// point and flips a fuzzed byte, as a torn write or a hostile branch would
// leave it, then reads it: every entry the reader lists is one
// that was written (a content added twice is kept once), in order, and every content it
// returns is the content written (its sha256 checks), never other bytes.
// An entry is never claimed past the end of the file.
func FuzzReader(f *testing.F) {
	f.Add([]byte("hello, world"), []byte("second"), uint16(0xffff), uint16(0), byte(0))
	f.Add(bytes.Repeat([]byte("a"), 5000), []byte{}, uint16(100), uint16(40), byte(1))
	f.Add([]byte{0, 1, 2}, []byte("x"), uint16(30), uint16(7), byte(0x80))
	f.Fuzz(func(t *testing.T, a, b []byte, cut, flipAt uint16, flip byte) {
		var buf bytes.Buffer
		w, err := xbundle.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		contents := [][]byte{a, b, a}
		for i, c := range contents {
			if _, err := w.Add(string(rune('a'+i))+".bin", "application/octet-stream", c); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// The writer keeps one copy of a content added twice.
		var distinct [][]byte
		for _, c := range contents {
			dup := false
			for _, d := range distinct {
				dup = dup || bytes.Equal(c, d)
			}
			if !dup {
				distinct = append(distinct, c)
			}
		}
		contents = distinct
		data := buf.Bytes()
		if int(cut) < len(data) {
			data = data[:cut]
		}
		if len(data) > 0 {
			data[int(flipAt)%len(data)] ^= flip
		}
		r, err := xbundle.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return // not a bundle any more: a clear error is all that is owed
		}
		es := r.Entries()
		if len(es) > len(contents) {
			t.Fatalf("%d entries from a bundle of %d", len(es), len(contents))
		}
		for i, e := range es {
			want := contents[i]
			if flip == 0 && (e.Sum != sha256.Sum256(want) || e.Size != int64(len(want))) {
				t.Fatalf("entry %d: %x size %d, want the written one", i, e.Sum, e.Size)
			}
			// A flipped byte the entry's checksums cover may pass the
			// listing; its content must then not read back as good.
			if got, err := r.Content(e); err == nil && !bytes.Equal(got, want) {
				t.Fatalf("entry %d: content %q read back as good, %q was written", i, got, want)
			}
		}
		if flip == 0 && int(cut) >= buf.Len() && (len(es) != len(contents) || r.Err() != nil) {
			t.Fatalf("an intact bundle read as %d entries, err %v", len(es), r.Err())
		}
	})
}
