package fileutil

// Which code asked for each fsync a CutFS sees, so a test can drop the
// fsyncs of one site and show the cut it is needed for.

import (
	"runtime"
	"strings"
)

// skip counts an fsync at its site and reports whether the knob drops it.
func (c *CutFS) skip() bool {
	s := site()
	c.Sites[s]++
	return c.Skip != nil && c.Skip(s)
}

// site names the code that asked for an fsync by the functions on the
// way (those of this package, then the first caller outside it), e.g.
// "SyncDirFS<RenameFS<logfile.(*Spool).close": stable across edits.
func site() string {
	pc := make([]uintptr, 16)
	frames := runtime.CallersFrames(pc[:runtime.Callers(3, pc)])
	var parts []string
	for {
		fr, more := frames.Next()
		fn := fr.Function[strings.LastIndexByte(fr.Function, '/')+1:]
		inside := strings.HasPrefix(fn, "fileutil.")
		if !strings.HasPrefix(fn, "fileutil.(*CutFS).") && !strings.HasPrefix(fn, "fileutil.(*cutFile).") {
			if inside {
				fn = strings.TrimPrefix(fn, "fileutil.")
			}
			parts = append(parts, fn)
			if !inside {
				break
			}
		}
		if !more {
			break
		}
	}
	return strings.Join(parts, "<")
}
