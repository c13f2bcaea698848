package logfile

import "time"

// WindowCacheOf returns the window of a time through a fresh windowCache,
// for the external tests to hold it to WindowStart.
func WindowCacheOf() func(time.Time) time.Time {
	var c windowCache
	return c.of
}
