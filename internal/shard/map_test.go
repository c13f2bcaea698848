package shard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const threeShards = `
default: s0
shards:
  s0: "a:b@tcp(127.0.0.1:1)/x"
  s1: "a:b@tcp(127.0.0.1:2)/x"
  s2: "a:b@tcp(127.0.0.1:3)/x"
versions:
  - from: "20261201"
    ranges:
      - {shard: s0, below: "80000000"}
      - {shard: s1}
  - from: "20261215"
    ranges:
      - {shard: s0, below: "55555555"}
      - {shard: s1, below: "aaaaaaaa"}
      - {shard: s2}
`

func load(t *testing.T, text string) (*Map, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "shards.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

func TestFor(t *testing.T) {
	m, err := load(t, threeShards)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ gw, day, want string }{
		{"FFFFFFFF", "20261130", "s0"}, // before every version: the default
		{"7FFFFFFF", "20261201", "s0"},
		{"80000000", "20261201", "s1"}, // a bound belongs to the range above
		{"FFFFFFFF", "20261214", "s1"},
		{"FFFFFFFF", "20261215", "s2"}, // the third shard takes new days only
		{"aaaaaaa9", "20261215", "s1"}, // case as the ascii_general_ci column compares
		{"AAAAAAAA", "20270101", "s2"},
		{"55555554", "20270101", "s0"},
	} {
		if got := m.For(c.gw, c.day); got != c.want {
			t.Errorf("For(%s, %s) = %s, want %s", c.gw, c.day, got, c.want)
		}
	}
	if got := m.ShardsOf("20261201"); strings.Join(got, ",") != "s0,s1" {
		t.Errorf("ShardsOf = %v", got)
	}
	if !m.Sharded() || Single("x").Sharded() {
		t.Error("Sharded wrong")
	}
	if got := Single("x").For("FFFFFFFF", "20261201"); got != "main" {
		t.Errorf("single server: %s", got)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct{ name, text, err string }{
		{"no shards", "default: s0\n", "no shards"},
		{"unknown default", "default: s9\nshards: {s0: x}\n", `default shard "s9"`},
		{"bad name", "shards: {S0: x}\n", "shard name"},
		{"open range not last", "shards: {s0: x, s1: y}\ndefault: s0\nversions: [{from: \"20260101\", ranges: [{shard: s0}, {shard: s1}]}]\n", "the last takes all the rest"},
		{"bounds out of order", "shards: {s0: x, s1: y}\ndefault: s0\nversions: [{from: \"20260101\", ranges: [{shard: s0, below: \"80000000\"}, {shard: s1, below: \"70000000\"}, {shard: s0}]}]\n", "not above"},
		{"bad bound", "shards: {s0: x, s1: y}\ndefault: s0\nversions: [{from: \"20260101\", ranges: [{shard: s0, below: \"8000\"}, {shard: s1}]}]\n", "not a gateway id"},
		{"days out of order", "shards: {s0: x}\nversions: [{from: \"20260102\", ranges: [{shard: s0}]}, {from: \"20260101\", ranges: [{shard: s0}]}]\n", "not after"},
		{"unknown field", "shards: {s0: x}\nfrnot: y\n", "field frnot not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.text)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("err %v, want one containing %q", err, c.err)
			}
		})
	}
}
