package record

import "slices"

// dueQueue orders the held rows by when they are due: a binary heap of
// entries that carry what they are ordered by, so that ordering reads no
// held row. It moves entries exactly as container/heap does (the same
// captures give the same files, ties included), without boxing each
// entry in an interface on the way in and out.
type dueQueue []dueEntry

type dueEntry struct {
	due, first int64 // Unix nanoseconds
	row        int32 // in heldRows
}

func (e *dueEntry) before(o *dueEntry) bool {
	if e.due != o.due {
		return e.due < o.due
	}
	return e.first < o.first
}

// push adds e.
func (q *dueQueue) push(e dueEntry) {
	if len(*q) == cap(*q) {
		// Doubled: append grows a slice this large by a quarter at a time,
		// each time copied into fresh memory, page faults and all: a third
		// of fold's CPU (writing rows aside) at 10k sessions/s.
		*q = slices.Grow(*q, max(len(*q), 64))
	}
	*q = append(*q, e)
	h := *q
	for j := len(h) - 1; ; {
		i := (j - 1) / 2 // parent
		if i == j || !h[j].before(&h[i]) {
			break
		}
		h[i], h[j] = h[j], h[i]
		j = i
	}
}

// pop removes the first entry.
func (q *dueQueue) pop() {
	h := *q
	n := len(h) - 1
	h[0], h[n] = h[n], h[0]
	for i := 0; ; {
		j := 2*i + 1
		if j >= n || j < 0 {
			break
		}
		if j2 := j + 1; j2 < n && h[j2].before(&h[j]) {
			j = j2
		}
		if !h[j].before(&h[i]) {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
	*q = h[:n]
}
