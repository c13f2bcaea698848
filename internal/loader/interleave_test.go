package loader

import (
	"strings"
	"testing"
)

// TestInterleave: batches go round-robin over gateways, each gateway's in
// its own order, so one gateway's backlog does not make the others wait.
func TestInterleave(t *testing.T) {
	var in []*batch
	for _, s := range strings.Fields("A1 A2 A3 A4 B1 C1 C2") {
		in = append(in, &batch{gw: s[:1], name: s})
	}
	var got []string
	for _, b := range interleave(in) {
		got = append(got, b.name)
	}
	if want := "A1 B1 C1 A2 C2 A3 A4"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}
