package rollup

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"

	"github.com/acstore/acstore/internal/logfile"
)

// splitKey fills seg with the segments of each dimension of a fine key
// (tag, length, value bytes) and returns the slot.
func splitKey(key string, ndims int, seg *[len(DimOrder)][2]int) int {
	pos := 1
	for i := range ndims {
		start := pos
		pos = nextDim(key, pos)
		seg[i] = [2]int{start, pos}
	}
	return int(key[0])
}

// nextDim returns where the encoded dimension at pos ends.
func nextDim(key string, pos int) int {
	if key[pos] == 0 {
		return pos + 1
	}
	n, w := binary.Uvarint([]byte(key[pos+1 : min(len(key), pos+1+binary.MaxVarintLen64)]))
	return pos + 1 + w + int(n)
}

// tableRows are the rows of one rollup table for one block, in the text
// form LOAD DATA reads, and how many there are.
type tableRows struct {
	rollup *Rollup
	period Period
	name   string
	text   []byte
	rows   int
}

// project derives every rollup table of the block's source from the fine
// aggregate: the 30-minute buckets of each rollup group the fine keys by
// the rollup's dimensions; the 1-hour and 4-hour buckets group those.
func project(b Block, fine agg, rollups []*Rollup) []tableRows {
	src := rollups[0].Source
	srcDims := src.Dims()
	entries := make([]entry, 0, len(fine))
	for k, s := range fine {
		e := entry{key: k, sums: s}
		e.slot = splitKey(k, len(srcDims), &e.seg)
		entries = append(entries, e)
	}
	// The rollups are independent: one goroutine each.
	out := make([][]tableRows, len(rollups))
	var wg sync.WaitGroup
	for ri, r := range rollups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[ri] = projectOne(b, r, srcDims, entries)
		}()
	}
	wg.Wait()
	return slices.Concat(out...)
}

// entry is a fine key split into its slot and dimension segments.
type entry struct {
	key  string
	slot int
	seg  [len(DimOrder)][2]int
	sums *sums
}

// projectOne derives the tables of one rollup.
func projectOne(b Block, r *Rollup, srcDims string, entries []entry) []tableRows {
	// Sums come from slabs: a block has hundreds of thousands of groups,
	// one allocation each would keep the collector busy.
	var slab []sums
	add := func(m map[string]*sums, k []byte, s *sums) {
		t := m[string(k)]
		if t == nil {
			if len(slab) == 0 {
				slab = make([]sums, 4096)
			}
			t, slab = &slab[0], slab[1:]
			m[string(k)] = t
		}
		for i := range t {
			t[i] += s[i]
		}
	}
	var out []tableRows
	var pk []byte
	pick := make([]int, len(r.Dims))
	for i := range len(r.Dims) {
		pick[i] = strings.IndexByte(srcDims, r.Dims[i])
	}
	// Keys are the bucket's index in the block, then the rollup's
	// dimensions encoded as in the fine key.
	half := make(map[string]*sums, len(entries)/4)
	for _, e := range entries {
		pk = append(pk[:0], byte(e.slot))
		for _, i := range pick {
			pk = append(pk, e.key[e.seg[i][0]:e.seg[i][1]]...)
		}
		add(half, pk, e.sums)
	}
	for _, p := range periods {
		groups := half
		if per := p.Minutes / 30; per > 1 {
			groups = make(map[string]*sums, len(half)/per)
			for k, s := range half {
				pk = append(append(pk[:0], k[0]/byte(per)), k[1:]...)
				add(groups, pk, s)
			}
		}
		out = append(out, encodeTable(b, r, p, groups))
	}
	return out
}

// encodeTable writes the groups of one rollup table as LOAD DATA rows.
func encodeTable(b Block, r *Rollup, p Period, groups map[string]*sums) tableRows {
	tr := tableRows{rollup: r, period: p, name: r.Table(p, b.Day), rows: len(groups)}
	tr.text = make([]byte, 0, len(groups)*(48+16*len(r.Dims)+12*len(r.Source.Measures)))
	var enc logfile.Encoder
	buckets := make([]string, BlockMinutes/p.Minutes)
	for i := range buckets {
		buckets[i] = b.clock(b.Index*BlockMinutes + i*p.Minutes)
	}
	for g, s := range groups {
		enc.Reset()
		enc.Str(b.Gateway)
		enc.Str(buckets[g[0]])
		pos := 1
		for range r.Dims {
			end := nextDim(g, pos)
			if g[pos] == 0 {
				enc.Null()
			} else {
				_, w := binary.Uvarint([]byte(g[pos+1 : min(len(g), pos+1+binary.MaxVarintLen64)]))
				enc.Str(g[pos+1+w : end])
			}
			pos = end
		}
		for i := range r.Source.Measures {
			enc.Uint(s[i])
		}
		tr.text = append(tr.text, enc.Bytes()...)
		tr.text = append(tr.text, '\n')
	}
	return tr
}
