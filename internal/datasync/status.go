package datasync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// TableStatus is a branch's shipping state of one table.
type TableStatus struct {
	Table       string        // letter
	LastShipped string        // window
	Newest      string        // newest published window on disk
	Backlog     int           // published files not shipped yet
	Lag         time.Duration // Newest - LastShipped while there is a backlog
}

// ClientStatus is what `datasync status` reports on a branch.
type ClientStatus struct {
	Gateway     string
	Watermark   string
	LastSuccess time.Time
	LastError   string
	LastErrorAt time.Time
	Backlog     int
	Tables      []TableStatus
	Quarantined map[string]Quarantined // files the server refused for their content
}

// ReadClientStatus computes a branch's status from its state file and the
// sync_files on disk.
func ReadClientStatus(root, gw string) (*ClientStatus, error) {
	if gw == "" {
		data, err := os.ReadFile(statePath(root))
		if err != nil {
			return nil, err
		}
		var probe struct{ Gateway string }
		json.Unmarshal(data, &probe)
		gw = probe.Gateway
	}
	st, _, err := ReadClientState(root, gw)
	if err != nil {
		return nil, err
	}
	cs := &ClientStatus{Gateway: gw, Watermark: st.Watermark, LastSuccess: st.LastSuccess, LastError: st.LastError, LastErrorAt: st.LastErrorAt,
		Quarantined: st.Quarantined}
	tables := make(map[byte]*TableStatus)
	letters := schema.ShipOrder + string(rune(schema.Attachments))
	for i := 0; i < len(letters); i++ {
		l := letters[i]
		tables[l] = &TableStatus{Table: string(l), LastShipped: st.LastShipped[string(l)]}
	}
	err = logfile.WalkSync(root, func(path string, n logfile.Name) error {
		ts := tables[n.Table]
		if n.Gateway != gw || ts == nil {
			return nil
		}
		w := windowName(n.Window)
		ts.Newest = max(ts.Newest, w)
		if w > st.Watermark {
			ts.Backlog++
			cs.Backlog++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(letters); i++ {
		ts := tables[letters[i]]
		if ts.Backlog > 0 {
			newest, _ := time.ParseInLocation(WindowLayout, ts.Newest, time.Local)
			if last, err := time.ParseInLocation(WindowLayout, ts.LastShipped, time.Local); err == nil {
				ts.Lag = newest.Sub(last)
			} else {
				ts.Lag = -1 // never shipped
			}
		}
		cs.Tables = append(cs.Tables, *ts)
	}
	return cs, nil
}

// PrintStatus prints the status of the data root: a branch's if it has a
// client state, head office's if it has a server state, or both.
func PrintStatus(w io.Writer, root, gw string) error {
	found := false
	if _, err := os.Stat(statePath(root)); err == nil {
		found = true
		cs, err := ReadClientStatus(root, gw)
		if err != nil {
			return fmt.Errorf("branch status: %w", err)
		}
		fmt.Fprintf(w, "branch %s: last window shipped %s, %d file(s) to ship\n", cs.Gateway, orNone(cs.Watermark), cs.Backlog)
		fmt.Fprintf(w, "last success: %s\n", when(cs.LastSuccess))
		if cs.LastError != "" {
			fmt.Fprintf(w, "last error:   %s: %s\n", when(cs.LastErrorAt), cs.LastError)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "table\tlast shipped\tnewest on disk\tbacklog\tlag")
		for _, t := range cs.Tables {
			lag := "0"
			switch {
			case t.Lag < 0:
				lag = "never shipped"
			case t.Lag > 0:
				lag = t.Lag.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", t.Table, orNone(t.LastShipped), orNone(t.Newest), t.Backlog, lag)
		}
		tw.Flush()
		printQuarantined(w, cs.Quarantined)
	}
	gws, err := ReadServerState(root)
	if err == nil {
		found = true
		names := make([]string, 0, len(gws))
		for gw := range gws {
			names = append(names, gw)
		}
		sort.Strings(names)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "gateway\tlast received\treceived at\tlast loaded\tloaded at")
		for _, gw := range names {
			g := gws[gw]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", gw, orNone(g.LastReceived), when(g.ReceivedAt), orNone(g.LastLoaded), when(g.LoadedAt))
		}
		tw.Flush()
		for _, gw := range names {
			if e := gws[gw].LastError; e != "" {
				fmt.Fprintf(w, "gateway %s: load failing, retried alone: %s\n", gw, e)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !found {
		return fmt.Errorf("no datasync state under %s (looked for %s and %s)", root, statePath(root),
			dataroot.Root(root).ServeState())
	}
	return nil
}

// printQuarantined lists the files set aside, newest first (at most 20).
func printQuarantined(w io.Writer, q map[string]Quarantined) {
	if len(q) == 0 {
		return
	}
	fmt.Fprintf(w, "quarantined: %d file(s) the server refused for their content (not sent again unless they change)\n", len(q))
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for i, name := range names {
		if i == 20 {
			fmt.Fprintf(w, "  ... and %d more\n", len(names)-i)
			break
		}
		fmt.Fprintf(w, "  %s (%d bytes) at %s: %s\n", name, q[name].Size, q[name].At.Format(time.DateTime), q[name].Reason)
	}
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.DateTime) + " (" + time.Since(t).Round(time.Second).String() + " ago)"
}

// Register adds the client's metrics to reg.
func (c *Client) Register(reg prometheus.Registerer) {
	s := &c.stats
	reg.MustRegister(
		daemon.Counter("datasync_push", "files_total", "Files sent (not counting those the server had).", &s.Files),
		daemon.Counter("datasync_push", "files_skipped_total", "Files the server already had.", &s.Skipped),
		daemon.Counter("datasync_push", "windows_total", "Windows committed.", &s.Windows),
		daemon.Counter("datasync_push", "config_total", "Config tables sent.", &s.Configs),
		daemon.Counter("datasync_push", "bytes_total", "Bytes of the sync_files sent.", &s.Bytes),
		daemon.Counter("datasync_push", "wire_bytes_total", "Bytes put on the wire (frames).", &s.WireBytes),
		daemon.Counter("datasync_push", "retries_total", "Requests retried.", &s.Retries),
		daemon.Counter("datasync_push", "errors_total", "Passes that failed.", &s.Errors),
		daemon.Counter("datasync_push", "quarantined_total", "Files set aside: the server refused their content.", &s.Quarantined),
		daemon.Counter("datasync_push", "busy_total", "Answers of a busy server (503 + Retry-After) waited for.", &s.Busy),
		daemon.Gauge("datasync_push", "backlog_files", "Published files not shipped yet, at the last scan (counted before the server is asked anything).", func() float64 { return float64(s.Backlog.Load()) }),
		daemon.Gauge("datasync_push", "last_success_seconds", "Unix time of the last pass that shipped everything ready.", func() float64 { return float64(s.LastSuccess.Load()) }),
	)
}

// StatsLine is the client's part of the 10-second stats line.
func (c *Client) StatsLine() []any {
	s := &c.stats
	attrs := []any{
		slog.Uint64("files", s.Files.Load()), slog.Uint64("skipped", s.Skipped.Load()), slog.Uint64("windows", s.Windows.Load()),
		slog.Uint64("bytes", s.Bytes.Load()), slog.Uint64("wire_bytes", s.WireBytes.Load()), slog.Int64("backlog", s.Backlog.Load()),
		slog.Uint64("retries", s.Retries.Load()), slog.Uint64("errors", s.Errors.Load()), slog.String("watermark", c.st.Watermark),
	}
	if last, at := c.LastError(); last != "" {
		attrs = append(attrs, slog.String("last_error", last), slog.Time("last_error_at", at))
	}
	return attrs
}

// Register adds the server's metrics to reg.
func (s *Server) Register(reg prometheus.Registerer) {
	st := &s.stats
	reg.MustRegister(
		daemon.Counter("datasync_serve", "uploads_total", "Upload requests.", &st.Uploads),
		daemon.Counter("datasync_serve", "published_total", "Files verified and published.", &st.Published),
		daemon.Counter("datasync_serve", "resumed_total", "Uploads resumed from an offset.", &st.Resumed),
		daemon.Counter("datasync_serve", "duplicates_total", "Uploads of a file already here.", &st.Duplicates),
		daemon.Counter("datasync_serve", "bytes_total", "Bytes received.", &st.Bytes),
		daemon.Counter("datasync_serve", "rejected_total", "Requests refused.", &st.Rejected),
		daemon.Counter("datasync_serve", "bad_frames_total", "Frames whose checksum did not match.", &st.BadFrames),
		daemon.Counter("datasync_serve", "disk_full_total", "Writes that failed for lack of space.", &st.DiskFull),
		daemon.Counter("datasync_serve", "windows_total", "Windows committed.", &st.Windows),
		daemon.Counter("datasync_serve", "bad_content_total", "Files refused for their content (the client quarantines them).", &st.BadContent),
		daemon.Counter("datasync_serve", "bad_windows_total", "Requests for a window outside the accepted range.", &st.BadWindows),
		daemon.Counter("datasync_serve", "quota_full_total", "Uploads refused for the gateway's quota.", &st.QuotaFull),
		daemon.Counter("datasync_serve", "busy_total", "Uploads turned away with 503: too many in progress.", &st.Busy),
		daemon.Counter("datasync_serve", "auth_failed_total", "Requests whose authentication failed.", &st.AuthFailed),
		daemon.Counter("datasync_serve", "loads_total", "Loads run.", &st.Loads),
		daemon.Counter("datasync_serve", "load_errors_total", "Loads that failed.", &st.LoadErrors),
		daemon.Counter("datasync_serve", "rows_total", "Rows loaded.", &st.Rows),
		daemon.Gauge("datasync_serve", "active_uploads", "Uploads in progress.", func() float64 { return float64(st.Active.Load()) }),
		daemon.Counter("datasync_serve", "incoming_expired_total", "Partial uploads removed after -incoming-ttl.", &st.IncomingExpired),
		daemon.Counter("datasync_serve", "gateway_days_removed_total", "Days of one gateway removed because it was above -disk-high percent of its -quota.", &st.GatewayDays),
	)
	if s.loader != nil {
		s.loader.Register(reg) // with the retention metrics
	} else {
		s.prune.Register(reg, "datasync_serve")
	}
}

// StatsLine is the server's part of the 10-second stats line.
func (s *Server) StatsLine() []any {
	st := &s.stats
	return []any{
		slog.Int64("active", st.Active.Load()), slog.Uint64("published", st.Published.Load()), slog.Uint64("bytes", st.Bytes.Load()),
		slog.Uint64("resumed", st.Resumed.Load()), slog.Uint64("duplicates", st.Duplicates.Load()), slog.Uint64("windows", st.Windows.Load()),
		slog.Uint64("rejected", st.Rejected.Load()), slog.Uint64("bad_frames", st.BadFrames.Load()), slog.Uint64("disk_full", st.DiskFull.Load()),
		slog.Uint64("loads", st.Loads.Load()), slog.Uint64("rows", st.Rows.Load()), slog.Uint64("load_errors", st.LoadErrors.Load()),
		slog.Uint64("incoming_expired", st.IncomingExpired.Load()), slog.Float64("disk_used", float64(s.pruner().Stats().UsedPermille.Load())/10),
	}
}
