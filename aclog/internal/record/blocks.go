package record

// blockLen is how many values a block of a blocks holds.
const blockLen = 1024

// blocks is a list of values in fixed blocks: growing never copies what
// it holds, and a value keeps its address. (The F and T sums of a minute
// at 10k sessions/s are 200k rows; a slice doubled, then grown by a
// quarter, as they came copied them several times over in fresh memory:
// a twentieth of aclog's CPU.) The blocks stay allocated when it is reset.
type blocks[T any] struct {
	b [][]T
	n int
}

func (s *blocks[T]) len() int { return s.n }

// add appends v and returns its index.
func (s *blocks[T]) add(v T) int32 {
	k := s.n / blockLen
	if k == len(s.b) {
		s.b = append(s.b, make([]T, 0, blockLen))
	}
	s.b[k] = append(s.b[k], v)
	s.n++
	return int32(s.n - 1)
}

// at returns the value of index i.
func (s *blocks[T]) at(i int32) *T { return &s.b[i/blockLen][i%blockLen] }

// reset empties the list, keeping its blocks.
func (s *blocks[T]) reset() {
	for i, b := range s.b {
		clear(b)
		s.b[i] = b[:0]
	}
	s.n = 0
}
