package pcapgen_test

import (
	"crypto/sha256"
	"io"
	"testing"

	"github.com/acstore/acstore/internal/pcapgen"
)

func TestDeterministic(t *testing.T) {
	sum := func(seed uint64) [32]byte {
		h := sha256.New()
		if _, err := pcapgen.Write(h, pcapgen.Config{Seed: seed, Packets: 5000}); err != nil {
			t.Fatal(err)
		}
		return [32]byte(h.Sum(nil))
	}
	if a, b := sum(7), sum(7); a != b {
		t.Error("same seed, different captures")
	}
	if sum(7) == sum(8) {
		t.Error("different seeds, same capture")
	}
}

// BenchmarkWrite measures the generator alone, so that make bench can tell
// how much of an aclog figure is pcapgen's (speed is never asserted in tests).
func BenchmarkWrite(b *testing.B) {
	var bytes int64
	for b.Loop() {
		st, err := pcapgen.Write(io.Discard, pcapgen.Config{Seed: 3, Packets: 100_000})
		if err != nil {
			b.Fatal(err)
		}
		bytes = st.Bytes
	}
	b.SetBytes(bytes)
}
