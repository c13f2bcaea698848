package record

import "testing"

// TestBlocks fills blocks across several block boundaries, twice (the
// second time in the blocks reset kept), and checks every value by index
// and that a value keeps its address as more are added.
func TestBlocks(t *testing.T) {
	for _, n := range []int{0, 1, blockLen - 1, blockLen, blockLen + 1, 3*blockLen + 7} {
		var b blocks[int]
		for round := range 2 {
			first := (*int)(nil)
			for i := range n {
				if got := b.add(i * 3); got != int32(i) {
					t.Fatalf("n %d round %d: add %d returned index %d", n, round, i, got)
				}
				if i == 0 {
					first = b.at(0)
				}
			}
			if b.len() != n {
				t.Fatalf("n %d round %d: len %d", n, round, b.len())
			}
			if n > 0 && first != b.at(0) {
				t.Fatalf("n %d round %d: the first value moved", n, round)
			}
			for i := range n {
				if *b.at(int32(i)) != i*3 {
					t.Fatalf("n %d round %d: value %d is %d", n, round, i, *b.at(int32(i)))
				}
			}
			b.reset()
		}
	}
}
