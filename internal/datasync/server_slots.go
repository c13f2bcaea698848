package datasync

import (
	"net/http"
	"sync"
	"time"
)

// slots caps the uploads in progress, in all and per gateway, so that
// memory and file descriptors are bounded by configuration, not by how many
// requests (or HTTP/2 streams) peers open, and so that one gateway cannot
// take every slot. A request over a cap is answered at once with 503 and
// Retry-After rather than queued: a queue would hold its connection.
type slots struct {
	mu    sync.Mutex
	max   int
	perGW int
	total int
	byGW  map[string]int
	retry time.Duration
}

func newSlots(max, perGW int) *slots {
	return &slots{max: max, perGW: perGW, byGW: make(map[string]int), retry: time.Second}
}

// take returns the release of a slot for gw, or a 503 error.
func (sl *slots) take(gw string) (func(), error) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.byGW[gw] >= sl.perGW {
		return nil, busy(sl.retry, "gateway %s has %d uploads in progress, the most allowed (-max-gateway-uploads); retry later", gw, sl.perGW)
	}
	if sl.total >= sl.max {
		return nil, busy(sl.retry, "%d uploads in progress, the most allowed (-max-uploads); retry later", sl.max)
	}
	sl.total++
	sl.byGW[gw]++
	var once sync.Once
	return func() {
		once.Do(func() {
			sl.mu.Lock()
			defer sl.mu.Unlock()
			sl.total--
			if sl.byGW[gw]--; sl.byGW[gw] <= 0 {
				delete(sl.byGW, gw)
			}
		})
	}, nil
}

func busy(retry time.Duration, format string, args ...any) *StatusError {
	e := fail(http.StatusServiceUnavailable, format, args...)
	e.RetryAfter = retry
	return e
}
