package datasync

import (
	"slices"
	"testing"
)

// TestLoadSchedShardShare: with shards, a shard's gateways take at most
// their share of the load workers, so a hung shard's loads (which never
// end) leave the other shards' gateways workers to load with.
func TestLoadSchedShardShare(t *testing.T) {
	shardOf := map[string]string{"a1": "s1", "a2": "s1", "a3": "s1", "b1": "s2", "b2": "s2", "c1": "s0"}
	ls := newLoadSched(4)
	ls.shardOf = func(gw string) (string, int) { return shardOf[gw], 3 }
	steps := []struct {
		done, due []string
		want      []string
	}{
		// 4 workers over 3 shards: 2 each at most; the workers are full.
		{due: []string{"a1", "a2", "a3", "b1", "b2", "c1"}, want: []string{"a1", "a2", "b1", "b2"}},
		// s1 hangs (a1, a2 never end): a3 stays queued behind its share.
		{done: []string{"b1"}, want: []string{"c1"}},
		{done: []string{"b2", "c1"}, due: []string{"b1", "c1"}, want: []string{"b1", "c1"}},
		{done: []string{"b1"}, due: []string{"b1", "b2"}, want: []string{"b1"}}, // b2 waits: the 4 workers are busy again
	}
	for i, s := range steps {
		for _, gw := range s.done {
			ls.done(gw)
		}
		ls.markDue(s.due...)
		got := ls.next()
		slices.Sort(got)
		if !slices.Equal(got, s.want) {
			t.Errorf("step %d: started %v, want %v", i, got, s.want)
		}
	}
	if !ls.due["a3"] {
		t.Error("a3 was dropped from the queue; it must wait for its shard")
	}

	// One server: no share, every worker for whoever is due.
	one := newLoadSched(2)
	one.markDue("a1", "a2", "a3")
	if got := one.next(); len(got) != 2 {
		t.Errorf("without shards: started %v, want 2 gateways", got)
	}
}
