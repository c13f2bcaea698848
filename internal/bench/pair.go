package bench

import (
	"fmt"
	"slices"
	"time"
)

// Runs is how many times Pair measures a program and its reference.
const Runs = 3

// Trial is one run of a measurement: it does the work, returns how long the
// measured part took, and checks its own output (rows loaded = rows
// generated, sums = sums): a bench that got a wrong answer fast reports an
// error, not a rate. Set-up that is not measured (fresh tables, copies of
// the input) happens inside the trial, outside the timed part.
type Trial func() (time.Duration, error)

// Pair runs prog and ref Runs times each, alternating which goes first
// (prog first in odd runs, ref first in even ones) so that neither always
// meets a warm or a cold cache, and returns prog's row and ref's row: each
// took its median time, and prog's row carries the median ratio of the
// rates of the two in the same run, with their min and max. Both rows
// process the same amount.
func Pair(prog, ref Row, progTrial, refTrial Trial) ([]Row, error) {
	return PairRuns(Runs, prog, ref, progTrial, refTrial)
}

// PairRuns is Pair with runs runs each: more, for a ratio that moves more
// from run to run than the machine's speed does.
func PairRuns(runs int, prog, ref Row, progTrial, refTrial Trial) ([]Row, error) {
	var pt, rt []time.Duration
	var ratios []float64
	for i := 0; i < runs; i++ {
		order := []struct {
			name  string
			trial Trial
			out   *[]time.Duration
		}{{prog.Name, progTrial, &pt}, {ref.Name, refTrial, &rt}}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, o := range order {
			d, err := o.trial()
			if err != nil {
				return nil, fmt.Errorf("%s (run %d): %w", o.name, i+1, err)
			}
			*o.out = append(*o.out, d)
		}
		ratios = append(ratios, rt[i].Seconds()/pt[i].Seconds())
	}
	prog.Took, ref.Took = Median(pt), Median(rt)
	prog.Reference = ref.Name
	prog.Ratio = Spread{Median: medianFloat(ratios), Min: slices.Min(ratios), Max: slices.Max(ratios), N: runs}
	return []Row{prog, ref}, nil
}

// Repeat runs trial Runs times and returns row with the median time and the
// spread of the times.
func Repeat(row Row, trial Trial) (Row, error) {
	var ts []time.Duration
	for i := 0; i < Runs; i++ {
		d, err := trial()
		if err != nil {
			return row, fmt.Errorf("%s (run %d): %w", row.Name, i+1, err)
		}
		ts = append(ts, d)
	}
	row.Took = Median(ts)
	row.Times = Spread{Median: row.Took.Seconds(), Min: slices.Min(ts).Seconds(), Max: slices.Max(ts).Seconds(), N: Runs}
	return row, nil
}

// Spread is a median with the min and max of the N values it was taken
// from.
type Spread struct {
	Median, Min, Max float64
	N                int
}

// Median returns the median of ds (the lower middle one of an even count).
func Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func medianFloat(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
