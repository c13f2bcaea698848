package source

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/acstore/acstore/aclog/internal/capture"
	"github.com/acstore/acstore/internal/schema"
)

// dayRE tells an argument that looks like a day from a file name; whether
// it is a real date is validDay's to say.
var dayRE = regexp.MustCompile(`^[0-9]{8}$`)

// Expand turns aclog's -r arguments into capture files in the order to
// read them. A file stays as given. A directory becomes every capture in
// it (not its subdirectories), in the order of their first packet; an
// argument YYYYMMDD right after a directory (the seed's "DIR YYYYMMDD"),
// or day for every directory, keeps only the captures whose first packet
// is on that day (local time). Files in a directory that are not captures
// are left out and listed in skipped.
func Expand(args []string, day string) (files, skipped []string, err error) {
	if day != "" && !validDay(day) {
		return nil, nil, fmt.Errorf("-day %q: want YYYYMMDD", day)
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		fi, err := os.Stat(arg)
		if err != nil || !fi.IsDir() {
			if dayRE.MatchString(arg) && err != nil {
				return nil, nil, fmt.Errorf("%s: a day (YYYYMMDD) must follow a capture directory", arg)
			}
			files = append(files, arg)
			continue
		}
		d := day
		if i+1 < len(args) && dayRE.MatchString(args[i+1]) {
			if _, err := os.Stat(args[i+1]); err != nil { // not a file named like a day
				d = args[i+1]
				i++
				if !validDay(d) {
					return nil, nil, fmt.Errorf("%s %s: want a day YYYYMMDD", arg, d)
				}
			}
		}
		caps, skip, err := dirCaptures(arg, d)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, caps...)
		skipped = append(skipped, skip...)
	}
	return files, skipped, nil
}

func validDay(d string) bool {
	_, err := schema.ParseDay(d)
	return err == nil
}

type dated struct {
	path  string
	first time.Time
}

// dirCaptures lists the captures of dir in the order of their first
// packet (then by name), keeping those of day if day is set.
func dirCaptures(dir, day string) (caps, skipped []string, err error) {
	names, err := Captures(dir)
	if err != nil {
		return nil, nil, err
	}
	var list []dated
	for _, name := range names {
		p := filepath.Join(dir, name)
		first, err := FirstPacket(p)
		if err != nil {
			skipped = append(skipped, p)
			continue
		}
		if day != "" && (first.IsZero() || first.Local().Format("20060102") != day) {
			continue
		}
		list = append(list, dated{p, first})
	}
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].first.Equal(list[j].first) {
			return list[i].first.Before(list[j].first)
		}
		return NaturalLess(list[i].path, list[j].path)
	})
	for _, d := range list {
		caps = append(caps, d.path)
	}
	return caps, skipped, nil
}

// Captures lists the names of the regular files of dir that may be
// captures (not hidden, not temporary), in natural order: "cap2" before
// "cap10", as tcpdump -C numbers them.
func Captures(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".tmp") ||
			strings.HasSuffix(n, ".part") || strings.HasSuffix(n, "~") {
			continue
		}
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return NaturalLess(names[i], names[j]) })
	return names, nil
}

// FirstPacket returns the time of the first packet of a capture (zero if
// it has none), or an error if it is not a capture.
func FirstPacket(path string) (time.Time, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return time.Time{}, err
	}
	defer src.Close()
	_, ci, err := src.ReadPacket()
	switch {
	case err == nil:
		return ci.Timestamp, nil
	case errors.Is(err, io.EOF), errors.Is(err, capture.ErrTruncated):
		return time.Time{}, nil
	default:
		return time.Time{}, err
	}
}

// NaturalLess orders names with their digit runs compared as numbers.
func NaturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digits(s string) int {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}
