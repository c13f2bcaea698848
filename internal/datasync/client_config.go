package datasync

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/acstore/acstore/internal/bytesize"
	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/logfile"
)

// ClientConfig configures a branch's push.
type ClientConfig struct {
	Root       string
	Server     string // https://host:port
	Gateway    string
	SecretFile string
	Secret     string // read from SecretFile when empty
	TLS        TLSFiles
	Codec      logfile.Codec
	BWLimit    bytesize.Rate
	Interval   time.Duration // between passes of push without -once
	Parallel   int           // files of a window on the wire at once
	Retries    int           // attempts per request before a pass gives up
	MinBackoff time.Duration
	MaxBackoff time.Duration
	Idle       time.Duration // a connection silent this long is dropped
	Recheck    time.Duration // how far back published files are watched for late rows
	FrameSize  int           // data bytes per frame; FrameSize when 0
	HTTP2      bool          // use HTTP/2 when the server offers it
	Logger     *slog.Logger
	// FS is the file layer of the files the client writes (fileutil.OS if
	// nil; a fileutil.CutFS in power-cut tests).
	FS fileutil.FS
}

// RegisterFlags adds push's flags to fs.
func (c *ClientConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Server, "server", "", "head-office server URL, e.g. https://ho.example.com:8443")
	fs.StringVar(&c.Gateway, "gateway", "", "this appliance's gateway id, 8 hex digits")
	fs.StringVar(&c.SecretFile, "secret-file", "", "file holding this gateway's secret (as in the server's -gateways file)")
	c.TLS.RegisterFlags(fs, "client")
	fs.Var(&c.Codec, "compress", "compression on the wire: lz4 (fast) or xz (about twice smaller, slower: thin links)")
	fs.Var(&c.BWLimit, "bwlimit", "most bandwidth to use, e.g. 2MB/s or 10Mbit/s; 0: unlimited")
	fs.DurationVar(&c.Interval, "interval", 10*time.Second, "how often to look for windows to ship")
	fs.IntVar(&c.Parallel, "parallel", 1, "files of a window sent at once; 1 keeps the strict A-U-P-M-C-O-I-S-F-Q-T order on the wire (thin links), more uses fast links better")
	fs.IntVar(&c.Retries, "retries", 12, "attempts per file before a pass gives up (the daemon then starts a new pass after a backoff)")
	fs.DurationVar(&c.MinBackoff, "min-backoff", time.Second, "first wait before a retry; doubled each time, with jitter")
	fs.DurationVar(&c.MaxBackoff, "max-backoff", 5*time.Minute, "longest wait between retries")
	fs.DurationVar(&c.Idle, "idle-timeout", time.Minute, "drop a connection that makes no progress for this long")
	fs.BoolVar(&c.HTTP2, "http2", false, "use HTTP/2 when the server offers it (HTTP/1.1, the default, moves big uploads faster)")
	fs.DurationVar(&c.Recheck, "recheck", time.Hour, "re-ship a file published this long before the last shipped window if it grew (late rows)")
}

// Validate checks the settings and reads the secret.
func (c *ClientConfig) Validate() error {
	if c.Root == "" {
		return errors.New("no -data directory")
	}
	if c.FS == nil {
		c.FS = fileutil.OS
	}
	if !logfile.ValidGateway(c.Gateway) {
		return fmt.Errorf("-gateway %q: want 8 upper-case hex digits, e.g. 5F86F7A5", c.Gateway)
	}
	u, err := url.Parse(c.Server)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("-server %q: want https://host:port", c.Server)
	}
	if u.Scheme == "http" && !c.TLS.Insecure {
		return fmt.Errorf("-server %q is plaintext http: use https, or -insecure to mean it", c.Server)
	}
	if u.Scheme == "https" && c.TLS.Insecure {
		return fmt.Errorf("-insecure is plaintext: use an http:// -server URL with it")
	}
	if c.Secret == "" {
		if c.SecretFile == "" {
			return errors.New("push needs -secret-file")
		}
		if c.Secret, err = ReadSecret(c.SecretFile); err != nil {
			return err
		}
	}
	if c.Codec != logfile.LZ4 && c.Codec != logfile.XZ {
		return fmt.Errorf("-compress %v: want lz4 or xz", c.Codec)
	}
	if c.Parallel <= 0 {
		c.Parallel = 1
	}
	if c.Interval <= 0 {
		c.Interval = 10 * time.Second
	}
	if c.Retries <= 0 {
		c.Retries = 12
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(c.MinBackoff, 5*time.Minute)
	}
	if c.Idle <= 0 {
		c.Idle = time.Minute
	}
	if c.Recheck < 0 {
		c.Recheck = 0
	}
	if c.FrameSize <= 0 || c.FrameSize > MaxFrame {
		c.FrameSize = FrameSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
