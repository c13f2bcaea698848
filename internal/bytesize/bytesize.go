// Package bytesize holds the flag types of byte sizes (64MiB, 200GB) and
// bandwidths (2MB/s, 10Mbit/s) the programs share, so -h prints their
// defaults in units and what it prints reads back as the same number.
package bytesize

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// Size is a flag of a size like 10GB, 512MiB or 2000000.
type Size int64

// String is the size in the largest unit that holds it whole (64MiB,
// 200GB), as -h prints a default and Set reads it back.
func (b *Size) String() string { return formatBytes(int64(*b)) }

// Set parses a size; 0 means unlimited.
func (b *Size) Set(s string) error {
	n, err := parseBytes(s)
	if err == nil {
		*b = Size(n)
	}
	return err
}

// Rate is a flag of a bandwidth like 2MB/s, 512KiB/s or 10Mbit/s, in bytes
// per second; 0 means unlimited.
type Rate int64

func (r *Rate) String() string {
	if *r == 0 {
		return "0"
	}
	return formatBytes(int64(*r)) + "/s"
}

// Set parses a rate.
func (r *Rate) Set(s string) error {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/s")
	bits := false
	for _, suf := range []string{"bit", "bps"} {
		if t, ok := strings.CutSuffix(s, suf); ok {
			s, bits = t, true
		}
	}
	n, err := parseBytes(s)
	if err != nil {
		return fmt.Errorf("bandwidth %q: want e.g. 2MB/s, 512KiB/s or 10Mbit/s", s)
	}
	if bits {
		n /= 8
	}
	*r = Rate(n)
	return nil
}

// formatBytes writes n in the largest unit (binary KiB..TiB or decimal
// KB..TB) that divides it, else in bytes.
func formatBytes(n int64) string {
	if n == 0 {
		return "0"
	}
	for _, u := range []struct {
		suf string
		m   int64
	}{{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3}} {
		if n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.suf
		}
	}
	return strconv.FormatInt(n, 10)
}

func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	units := []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1}}
	for _, u := range units {
		if t, ok := strings.CutSuffix(s, u.suf); ok {
			s, mult = strings.TrimSpace(t), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: want e.g. 10GB, 512MiB or 2000000", s)
	}
	return int64(f * float64(mult)), nil
}

// IntVar defines a size flag on an int or int64 field: the program keeps
// its field's type, and -h prints the default in units as for a Size.
func IntVar[T ~int | ~int64](fs *flag.FlagSet, p *T, name string, value T, usage string) {
	*p = value
	fs.Var(&intSize[T]{p}, name, usage)
}

// intSize is a Size flag stored in an int or int64.
type intSize[T ~int | ~int64] struct{ p *T }

// String is as Size's; the zero intSize (the flag package makes one to
// tell a zero default) is 0.
func (s *intSize[T]) String() string {
	if s.p == nil {
		return "0"
	}
	b := Size(*s.p)
	return b.String()
}

// Set parses a size as Size does.
func (s *intSize[T]) Set(v string) error {
	var b Size
	if err := b.Set(v); err != nil {
		return err
	}
	*s.p = T(b)
	return nil
}
