package datasync

import (
	"github.com/acstore/acstore/internal/loader"
	"github.com/acstore/acstore/internal/shard"

	"errors"
	"flag"
	"log/slog"
	"time"

	"github.com/acstore/acstore/internal/bytesize"
	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/retention"
)

// ServerConfig configures the head-office server.
type ServerConfig struct {
	// Shards, at a head office past one server, routes each gateway's
	// rows to its shard (config tables go to the default shard); nil:
	// everything goes to the db given to NewServer.
	Shards *shard.Set
	// Front, when set, keeps the Spider front's tables in step.
	Front        loader.Front
	Root         string
	Listen       string
	GatewaysFile string
	Gateways     map[string]string // GW -> secret; read from GatewaysFile when nil
	TLS          TLSFiles
	Quota        bytesize.Size // per gateway, on disk; 0: unlimited
	MaxFileSize  bytesize.Size
	// MaxAttachment is the largest content an X bundle may unpack to.
	MaxAttachment bytesize.Size
	// MaxDict and MaxRow bound the memory the load of one sync_file may
	// take (logfile.Limits), whatever the file claims.
	MaxDict bytesize.Size
	MaxRow  bytesize.Size
	// MaxRatio bounds the rows one byte of a sync_file may expand to
	// (logfile.Limits.MaxRatio): the work a small file can cause.
	MaxRatio int
	// WindowPast and WindowFuture bound the windows accepted: see
	// checkWindow.
	WindowPast   time.Duration
	WindowFuture time.Duration
	// MaxUploads and MaxGatewayUploads cap the uploads in progress, in all
	// and per gateway; past them a request gets 503 and Retry-After.
	MaxUploads        int
	MaxGatewayUploads int
	AuthSkew          time.Duration // how far a request's signed time may be from the clock
	IdleTimeout       time.Duration // the longest a client may stay silent
	LoadInterval      time.Duration // load also this often, not only after commits
	// LoadWorkers is how many gateways load at once (each gateway's files
	// one after the other); LoadStatementBytes bounds one LOAD DATA
	// statement, so a huge file shares its day table with the others.
	LoadWorkers        int
	LoadStatementBytes bytesize.Size
	// Housekeeping: retention by age and disk, abandoned uploads.
	KeepDays       int // 0: keep every day
	Disk           retention.Watermarks
	IncomingTTL    time.Duration // partial uploads idle this long are removed; 0: never
	HousekeepEvery time.Duration // how often; a minute when 0
	Logger         *slog.Logger
	// FS is the file layer of what the server writes (fileutil.OS if nil;
	// a fileutil.CutFS in power-cut tests).
	FS fileutil.FS
}

// DefaultLoadWorkers is -load-workers: a few gateways at once keep the
// database busy on several tables without one gateway waiting for another.
const DefaultLoadWorkers = 4

// RegisterFlags adds serve's flags to fs.
func (c *ServerConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", ":8443", "address to listen on")
	fs.StringVar(&c.GatewaysFile, "gateways", "", "file of the allowed gateways, one `GW SECRET` a line")
	c.TLS.RegisterFlags(fs, "server")
	c.MaxFileSize = 2 << 30
	fs.Var(&c.Quota, "quota", "most bytes each gateway may store (e.g. 200GB); 0: unlimited")
	fs.Var(&c.MaxFileSize, "max-file-size", "largest file accepted (e.g. 2GiB)")
	c.MaxAttachment = 256 << 20
	fs.Var(&c.MaxAttachment, "max-attachment", "largest attachment an X bundle may unpack to; a bigger one quarantines the bundle")
	c.MaxDict, c.MaxRow = logfile.DefaultMaxDict, logfile.DefaultMaxRow
	fs.Var(&c.MaxDict, "max-xz-dict", "largest xz dictionary a sync_file may ask for; a bigger one is refused as damage before anything is allocated")
	fs.Var(&c.MaxRow, "max-row", "longest row a sync_file may hold; a longer one ends the file as damage")
	fs.IntVar(&c.MaxRatio, "max-ratio", logfile.DefaultMaxRatio, "most times its size a sync_file's rows may be (past their first 16MiB); a file expanding more ends there as damage (aclog's expand 2 to 4 times)")
	fs.DurationVar(&c.WindowPast, "window-past", 90*24*time.Hour, "oldest window accepted: this long before the gateway's first window (or now, for a new gateway)")
	fs.DurationVar(&c.WindowFuture, "window-future", 10*time.Minute, "newest window accepted: this long after now (clocks drift)")
	fs.IntVar(&c.MaxUploads, "max-uploads", 64, "most uploads in progress at once, over all gateways; more get 503 and Retry-After")
	fs.IntVar(&c.MaxGatewayUploads, "max-gateway-uploads", 4, "most uploads in progress at once for one gateway")
	fs.DurationVar(&c.AuthSkew, "auth-skew", 5*time.Minute, "accept a signed request this far from the server's clock; its nonce is remembered twice as long")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", time.Minute, "drop a client silent for this long (slow or dead links)")
	fs.DurationVar(&c.LoadInterval, "load-interval", 30*time.Second, "also run the load this often, to retry after a failure")
	fs.IntVar(&c.LoadWorkers, "load-workers", DefaultLoadWorkers, "most gateways loading into the database at once (each gateway's files one after the other), so one gateway's huge file does not hold back the others; with -shards, a shard's gateways take at most their share")
	c.LoadStatementBytes = loader.DefaultStatementBytes
	fs.Var(&c.LoadStatementBytes, "load-statement-bytes", "most bytes of rows (uncompressed) one LOAD DATA statement streams; a bigger file takes several, and other gateways' loads into the same day table get their turn in between")
	fs.IntVar(&c.KeepDays, "keep-days", 0, "remove every gateway's days older than this many days (files, attachments, day tables, rollups); 0 keeps everything")
	c.Disk.RegisterFlags(fs)
	fs.DurationVar(&c.IncomingTTL, "incoming-ttl", 24*time.Hour, "remove partial uploads no branch has written to for this long (a later resume starts the file over); 0: never")
}

// Validate checks the settings and reads the gateways file.
func (c *ServerConfig) Validate() error {
	if c.Root == "" {
		return errors.New("no -data directory")
	}
	if c.FS == nil {
		c.FS = fileutil.OS
	}
	if c.Gateways == nil {
		if c.GatewaysFile == "" {
			return errors.New("serve needs -gateways FILE (one `GW SECRET` a line)")
		}
		gws, err := ReadGateways(c.GatewaysFile)
		if err != nil {
			return err
		}
		c.Gateways = gws
	}
	c.defaultLimits()
	if c.KeepDays < 0 {
		return errors.New("-keep-days must be 0 or more")
	}
	if err := c.Disk.Validate(); err != nil {
		return err
	}
	if c.IncomingTTL < 0 {
		return errors.New("-incoming-ttl must be 0 (never) or more")
	}
	if c.HousekeepEvery <= 0 {
		c.HousekeepEvery = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// defaultLimits gives the upload limits, timeouts and load settings left
// at zero their defaults.
func (c *ServerConfig) defaultLimits() {
	if c.MaxFileSize <= 0 {
		c.MaxFileSize = 2 << 30
	}
	if c.MaxAttachment <= 0 {
		c.MaxAttachment = 256 << 20
	}
	if c.WindowPast <= 0 {
		c.WindowPast = 90 * 24 * time.Hour
	}
	if c.WindowFuture <= 0 {
		c.WindowFuture = 10 * time.Minute
	}
	if c.MaxUploads <= 0 {
		c.MaxUploads = 64
	}
	if c.MaxGatewayUploads <= 0 {
		c.MaxGatewayUploads = 4
	}
	if c.AuthSkew <= 0 {
		c.AuthSkew = 5 * time.Minute
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = time.Minute
	}
	if c.LoadInterval <= 0 {
		c.LoadInterval = 30 * time.Second
	}
	if c.LoadWorkers <= 0 {
		c.LoadWorkers = DefaultLoadWorkers
	}
	if c.LoadStatementBytes <= 0 {
		c.LoadStatementBytes = loader.DefaultStatementBytes
	}
}
