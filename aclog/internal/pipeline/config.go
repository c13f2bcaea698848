package pipeline

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/aclog/internal/record"
	"github.com/acstore/acstore/internal/bytesize"
	"github.com/acstore/acstore/internal/logfile"
)

// Config configures aclog.
type Config struct {
	Root  string
	Files []string // -r: capture files, read in order (directories expanded: see source.Expand)
	Iface string   // -i: live capture

	// Reprocess processes captures the ledger knows as done again,
	// replacing their rows (same ids).
	Reprocess bool
	// Watch follows a directory that tcpdump rotates captures into.
	Watch       string
	WatchDelete bool
	WatchPoll   time.Duration

	Filter  string
	Snaplen int

	// Workers is how many engines share the packets (by a hash of their
	// addresses); 1 runs the engine on the loop's goroutine.
	Workers int
	// Live capture: "afpacket" (Linux AF_PACKET TPACKET_V3 rings, one
	// socket per worker in a fanout group) or "pcap" (libpcap); the
	// interface promiscuous (a mirror port's frames are addressed to
	// others); the kernel ring or buffer in bytes.
	Capture    string
	Promisc    bool
	BufferSize int

	Gateway         string
	Codec           logfile.Codec
	HighPerformance bool
	LoadInterval    time.Duration
	MaxLoadBacklog  int

	Audit  audit.Config
	Record record.Config
	Logger *slog.Logger
}

// RegisterFlags adds aclog's flags (except -r, which takes several files).
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Audit = audit.DefaultConfig()
	c.Record = record.DefaultConfig()
	c.Codec = logfile.LZ4
	fs.StringVar(&c.Iface, "i", "", "capture live on this interface (needs root or CAP_NET_RAW)")
	fs.BoolVar(&c.Reprocess, "reprocess", false, "process captures again that were processed before (known by content), replacing their rows with the same ids")
	fs.StringVar(&c.Watch, "watch", "", "follow this directory that tcpdump -G/-C rotates captures into: each complete capture processed once, in order")
	fs.BoolVar(&c.WatchDelete, "watch-delete", false, "with -watch: delete each capture once processed")
	fs.DurationVar(&c.WatchPoll, "watch-poll", time.Second, "with -watch: how often to look for new captures")
	fs.StringVar(&c.Filter, "f", "", "BPF filter for live capture, e.g. 'tcp or udp port 53'")
	bytesize.IntVar(fs, &c.Snaplen, "snaplen", 262144, "bytes kept of each live packet")
	fs.StringVar(&c.Capture, "capture", "afpacket", "live capture method: afpacket (Linux AF_PACKET rings, one socket per worker) or pcap (libpcap)")
	fs.BoolVar(&c.Promisc, "promisc", true, "put the interface in promiscuous mode (a mirror/SPAN port carries frames addressed to other hosts)")
	bytesize.IntVar(fs, &c.BufferSize, "buffer-size", 64<<20, "kernel capture buffer in bytes (afpacket: all rings together), to absorb bursts")
	fs.IntVar(&c.Workers, "workers", runtime.NumCPU(), "engines parsing packets in parallel (packets shared by a hash of their addresses); rows are the same for any number")
	fs.StringVar(&c.Gateway, "gateway", "", "this appliance's gateway id: 8 hex digits, e.g. 5F86F7A5 (required)")
	fs.Var(&c.Codec, "compress", "sync_file compression: lz4 (fast, default) or xz (about 1.5x smaller, slower)")
	fs.BoolVar(&c.HighPerformance, "high-performance", false, "write sync_files only, no load_files: the local database stays empty, head office gets everything")
	fs.DurationVar(&c.LoadInterval, "load-interval", 5*time.Second, "how often rows are flushed to sync_files and published as load_files")
	fs.IntVar(&c.MaxLoadBacklog, "max-load-backlog", 2000, "load_files waiting for loader before aclog pauses them (loader then back-fills from the sync_files)")
	c.Audit.RegisterFlags(fs, "")
	c.Record.RegisterFlags(fs)
}

// Validate checks the settings.
func (c *Config) Validate() error {
	switch {
	case len(c.Files) == 0 && c.Iface == "" && c.Watch == "":
		return errors.New("nothing to capture: give -r FILE|DIR..., -watch DIR or -i IFACE")
	case btoi(len(c.Files) > 0)+btoi(c.Iface != "")+btoi(c.Watch != "") > 1:
		return errors.New("give one of -r, -watch and -i")
	case c.Watch != "" && c.WatchPoll <= 0:
		return errors.New("-watch-poll must be positive")
	case !logfile.ValidGateway(c.Gateway):
		return fmt.Errorf("-gateway %q: want 8 hex digits in upper case, e.g. 5F86F7A5", c.Gateway)
	case c.Capture != "" && c.Capture != "afpacket" && c.Capture != "pcap":
		return fmt.Errorf("-capture %q: want afpacket or pcap", c.Capture)
	case c.Workers < 0 || c.Workers > 256:
		return fmt.Errorf("-workers %d: want 1 to 256 (0: the number of CPUs)", c.Workers)
	case c.LoadInterval <= 0:
		return errors.New("-load-interval must be positive")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Workers == 0 {
		c.Workers = runtime.NumCPU()
	}
	return errors.Join(c.Audit.Validate(), c.Record.Validate())
}
