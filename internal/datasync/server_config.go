package datasync

import (
	"errors"
	"flag"
	"log/slog"
	"time"
)

// ServerConfig configures the head-office server.
type ServerConfig struct {
	Root         string
	Listen       string
	GatewaysFile string
	Gateways     map[string]string // GW -> secret; read from GatewaysFile when nil
	TLS          TLSFiles
	Quota        ByteSize // per gateway, on disk; 0: unlimited
	MaxFileSize  ByteSize
	IdleTimeout  time.Duration // the longest a client may stay silent
	LoadInterval time.Duration // load also this often, not only after commits
	Logger       *slog.Logger
}

// RegisterFlags adds serve's flags to fs.
func (c *ServerConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", ":8443", "address to listen on")
	fs.StringVar(&c.GatewaysFile, "gateways", "", "file of the allowed gateways, one `GW SECRET` a line")
	c.TLS.RegisterFlags(fs, "server")
	c.MaxFileSize = 2 << 30
	fs.Var(&c.Quota, "quota", "most bytes each gateway may store (e.g. 200GB); 0: unlimited")
	fs.Var(&c.MaxFileSize, "max-file-size", "largest file accepted (e.g. 2GiB)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", time.Minute, "drop a client silent for this long (slow or dead links)")
	fs.DurationVar(&c.LoadInterval, "load-interval", 30*time.Second, "also run the load this often, to retry after a failure")
}

// Validate checks the settings and reads the gateways file.
func (c *ServerConfig) Validate() error {
	if c.Root == "" {
		return errors.New("no -data directory")
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
	if c.MaxFileSize <= 0 {
		c.MaxFileSize = 2 << 30
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = time.Minute
	}
	if c.LoadInterval <= 0 {
		c.LoadInterval = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
