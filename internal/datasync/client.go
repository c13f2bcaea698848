package datasync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acstore/acstore/internal/backoff"
)

// ClientStats are the client's counters.
type ClientStats struct {
	Files, Skipped, Windows, Configs, Bytes, WireBytes, Retries, Errors atomic.Uint64
	Quarantined, Busy                                                   atomic.Uint64
	Backlog                                                             atomic.Int64
	LastSuccess                                                         atomic.Int64 // unix seconds
}

// Client ships a branch's sync_files.
type Client struct {
	cfg   ClientConfig
	http  *http.Client
	base  string
	lim   *Limiter
	log   *slog.Logger
	stats ClientStats
	st    *ClientState
	// needProgress: the state is new or was rebuilt, so ask the server how
	// far it got before shipping.
	needProgress bool
	// scannedDays: the day directories of the last scan and their
	// modification times, recorded in the state when the pass succeeds.
	scannedDays map[string]int64

	mu   sync.Mutex
	sums map[string]fileSum // wire file -> sha256
	// lastErr is the latest failure of a request (under mu), so that the
	// stats line and the state show the real reason even while retrying,
	// or when a stop cancels the pass.
	lastErr   string
	lastErrAt time.Time
}

// noteError records the latest failure of a request.
func (c *Client) noteError(err error) {
	c.mu.Lock()
	c.lastErr, c.lastErrAt = err.Error(), time.Now()
	c.mu.Unlock()
}

// LastError returns the latest failure since the last successful pass.
func (c *Client) LastError() (string, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr, c.lastErrAt
}

// NewClient returns a client. A corrupt state file is set aside; the state
// is then rebuilt by asking the server.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tcfg, err := cfg.TLS.clientTLS()
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, timeout: cfg.Idle}, nil
		},
		TLSClientConfig:       tcfg,
		ForceAttemptHTTP2:     cfg.HTTP2,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * cfg.Idle,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       cfg.Idle,
		WriteBufferSize:       FrameSize + frameHeader,
		ReadBufferSize:        64 << 10,
	}
	c := &Client{cfg: cfg, http: &http.Client{Transport: tr}, base: strings.TrimSuffix(cfg.Server, "/"),
		lim: NewLimiter(int64(cfg.BWLimit)), log: cfg.Logger, sums: make(map[string]fileSum)}
	st, fresh, err := ReadClientState(cfg.Root, cfg.Gateway)
	if errors.Is(err, errCorruptState) {
		aside, aerr := setAsideState(cfg.FS, cfg.Root)
		if aerr != nil {
			return nil, fmt.Errorf("%v; and setting it aside failed: %w", err, aerr)
		}
		c.log.Error("client state is corrupt; set aside, rebuilding it from the server", "moved_to", aside, "err", err)
		st, fresh = newState(cfg.Gateway), true
	} else if err != nil {
		return nil, err
	}
	c.st, c.needProgress = st, fresh
	return c, nil
}

// backlog counts the files of the windows past the watermark.
func (c *Client) backlog(wins []*window) int64 {
	n := int64(0)
	for _, w := range wins {
		if w.name > c.st.Watermark {
			n += int64(len(w.files))
		}
	}
	return n
}

// Stats returns the client's counters.
func (c *Client) Stats() *ClientStats { return &c.stats }

// State returns a copy of the state's watermark, for tests and status.
func (c *Client) Watermark() string { return c.st.Watermark }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Run ships windows until ctx ends, a pass every Interval, with backoff
// after a failed pass.
func (c *Client) Run(ctx context.Context) error {
	backoff.Loop(ctx, c.cfg.Interval, c.cfg.MaxBackoff, c.RunOnce, func(err error, wait time.Duration) {
		c.log.Warn("push pass failed; files stay and are shipped later", "err", err, "retry_in", wait.Round(time.Millisecond))
	})
	return nil
}

// RunOnce ships every window that is ready, oldest first, and returns nil
// when nothing ready is left.
func (c *Client) RunOnce(ctx context.Context) error {
	err := c.runOnce(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		// Stopped: the reason worth keeping is the failure before, if any.
		if last, at := c.LastError(); last != "" {
			c.st.LastError, c.st.LastErrorAt = last, at
		}
	case err != nil:
		c.stats.Errors.Add(1)
		c.noteError(err)
		c.st.LastError, c.st.LastErrorAt = c.LastError()
	default:
		c.st.LastSuccess = time.Now()
		c.stats.LastSuccess.Store(c.st.LastSuccess.Unix())
		c.st.Days = c.scannedDays
		// A success clears the last error: it is no longer the state.
		c.st.LastError, c.st.LastErrorAt = "", time.Time{}
		c.mu.Lock()
		c.lastErr, c.lastErrAt = "", time.Time{}
		c.mu.Unlock()
	}
	if serr := c.st.save(c.cfg.FS, c.cfg.Root); serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}

func (c *Client) runOnce(ctx context.Context) error {
	// What is pending is known from the disk alone: count it before
	// asking the server anything, so it shows while the server is away.
	wins, err := c.scan()
	if err != nil {
		return err
	}
	c.stats.Backlog.Store(c.backlog(wins))
	if c.needProgress {
		if wins, err = c.catchUp(ctx, wins); err != nil {
			return err
		}
	}
	c.stats.Backlog.Store(c.backlog(wins))
	configDone := false
	for _, w := range wins {
		if err := ctx.Err(); err != nil {
			return err
		}
		if w.name <= c.st.Watermark {
			if err := c.recheck(ctx, w); err != nil {
				return err
			}
			continue
		}
		if w.parts > 0 {
			c.log.Debug("window still open; later windows wait for it", "window", w.name, "open_files", w.parts)
			return nil
		}
		if c.allQuarantined(w) {
			continue // set aside as a whole: refused by the server
		}
		if !configDone {
			// Config tables go before the window's log rows, so the rows
			// are read with the users and groups they were named with.
			if err := c.shipConfig(ctx); err != nil {
				return err
			}
			configDone = true
		}
		if err := c.shipWindow(ctx, w); err != nil {
			return err
		}
		c.stats.Backlog.Add(-int64(len(w.files)))
	}
	if !configDone {
		return c.shipConfig(ctx)
	}
	return nil
}

// catchUp takes the watermark and config md5s from the server (after a
// start or a lost state) and, if the watermark moved, scans again from
// the new horizon: wins as they now are.
func (c *Client) catchUp(ctx context.Context, wins []*window) ([]*window, error) {
	p, err := c.progress(ctx)
	if err != nil {
		return nil, fmt.Errorf("ask the server what it has: %w", err)
	}
	if p.LastWindow > c.st.Watermark {
		c.log.Info("state rebuilt from the server", "watermark", p.LastWindow)
		c.st.Watermark = p.LastWindow
		if wins, err = c.scan(); err != nil { // from the new horizon
			return nil, err
		}
	}
	c.st.ConfigMD5 = p.ConfigMD5
	if c.st.ConfigMD5 == nil {
		c.st.ConfigMD5 = make(map[string]string)
	}
	c.needProgress = false
	return wins, nil
}
