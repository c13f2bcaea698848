package record

import (
	"container/heap"
	"math/rand/v2"
	"testing"
)

// refQueue is dueQueue's order through container/heap, as the held rows
// were ordered before dueQueue.
type refQueue []dueEntry

func (q refQueue) Len() int           { return len(q) }
func (q refQueue) Less(i, j int) bool { return q[i].before(&q[j]) }
func (q refQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *refQueue) Push(x any)        { *q = append(*q, x.(dueEntry)) }
func (q *refQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// TestDueQueue: pushes and pops in random turns give the entries in the
// order container/heap gives them, entries that tie (same due, same
// first, other rows) included: that order is the order held rows are
// written in, and so their ids.
func TestDueQueue(t *testing.T) {
	for _, c := range []struct {
		name  string
		times int64 // distinct due and first values: few make ties
		ops   int
	}{{"ties", 3, 5000}, {"some ties", 50, 20000}, {"no ties", 1 << 40, 20000}} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(c.ops)))
			var q dueQueue
			var ref refQueue
			for i := range c.ops {
				if rng.IntN(3) > 0 || len(q) == 0 {
					e := dueEntry{due: rng.Int64N(c.times), first: rng.Int64N(c.times), row: int32(i)}
					q.push(e)
					heap.Push(&ref, e)
				} else {
					want := heap.Pop(&ref).(dueEntry)
					if q[0] != want {
						t.Fatalf("op %d: first %+v, container/heap's %+v", i, q[0], want)
					}
					q.pop()
				}
				if len(q) != len(ref) {
					t.Fatalf("op %d: %d entries, container/heap %d", i, len(q), len(ref))
				}
			}
			for len(ref) > 0 {
				if want := heap.Pop(&ref).(dueEntry); q[0] != want {
					t.Fatalf("draining: first %+v, container/heap's %+v", q[0], want)
				}
				q.pop()
			}
		})
	}
}
