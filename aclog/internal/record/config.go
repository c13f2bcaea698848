package record

import (
	"errors"
	"flag"
	"time"
)

// Config tunes the Recorder beyond the spool it writes to.
type Config struct {
	// Root and Gateway name where the attachment bundles (X files) go:
	// logfile.Name{Window, Gateway, 'X'}.Path(Root). Without a Root no
	// bundle is written and rows carry no content pointer.
	Root    string
	Gateway string

	// XMaxFile is the largest content stored in a bundle; a larger file
	// is logged with its size and hash "-" and counted in XCutFile.
	XMaxFile int `yaml:"x_max_file"`
	// XMaxWindow bounds the content one window's bundle holds (and what
	// the recorder keeps in memory for it); past it, files are logged
	// without content and counted in XCutWindow.
	XMaxWindow int64 `yaml:"x_max_window"`
	// XGrace is how long after its end a window's bundle waits for late
	// content before it is written.
	XGrace time.Duration `yaml:"x_grace"`

	Reduce ReduceConfig `yaml:"reduce"`
}

// ReduceConfig is the log reduction of seed 001 (日志精简): rules that drop
// or fold rows an auditor does not need, each counted in Stats.Reduced.
//
// Defaults (on unless -reduce=false):
//   - static: U rows of static resources (images, style sheets, scripts,
//     fonts, by response Content-Type or by the path's extension) are
//     dropped;
//   - repeat: a U row repeating the same client, method, host and URI
//     within RepeatWindow (60 s) of the last one written is folded into it
//     (not written); so is a Q row repeating the same client, name and
//     type.
type ReduceConfig struct {
	Enabled      bool          `yaml:"enabled"`
	Static       bool          `yaml:"static"`
	RepeatWindow time.Duration `yaml:"repeat_window"` // 0 disables folding
	// MaxTracked bounds the keys remembered for folding.
	MaxTracked int `yaml:"max_tracked"`
}

// DefaultConfig returns the defaults: 10 MB per file, 256 MB per window,
// 10 s grace, reduction on.
func DefaultConfig() Config {
	return Config{
		XMaxFile:   10 << 20,
		XMaxWindow: 256 << 20,
		XGrace:     10 * time.Second,
		Reduce:     ReduceConfig{Enabled: true, Static: true, RepeatWindow: time.Minute, MaxTracked: 1 << 16},
	}
}

// RegisterFlags adds the recorder's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.XMaxFile, "x-max-file", c.XMaxFile, "largest attachment/upload/FTP file stored in a window's X bundle, bytes")
	fs.Int64Var(&c.XMaxWindow, "x-max-window", c.XMaxWindow, "content one window's X bundle holds at most, bytes")
	fs.BoolVar(&c.Reduce.Enabled, "reduce", c.Reduce.Enabled, "log reduction: drop U rows of static resources, fold repeated U and Q rows (see -reduce-repeat)")
	fs.BoolVar(&c.Reduce.Static, "reduce-static", c.Reduce.Static, "with -reduce: drop U rows of images, style sheets, scripts and fonts")
	fs.DurationVar(&c.Reduce.RepeatWindow, "reduce-repeat", c.Reduce.RepeatWindow, "with -reduce: fold a U or Q row repeating the same client and request within this interval (0: never)")
}

// Validate checks the settings.
func (c *Config) Validate() error {
	if c.XMaxFile < 0 || c.XMaxWindow < 0 || c.Reduce.RepeatWindow < 0 {
		return errors.New("record: caps and intervals must not be negative")
	}
	if c.XGrace <= 0 {
		c.XGrace = 10 * time.Second
	}
	if c.Reduce.MaxTracked <= 0 {
		c.Reduce.MaxTracked = 1 << 16
	}
	return nil
}

// Stats counts what the recorder did beyond writing rows.
type Stats struct {
	XFiles     uint64 // contents stored in bundles
	XBytes     uint64 // their bytes
	XBundles   uint64 // bundles written (or rewritten for late content)
	XCutFile   uint64 // contents not stored: over XMaxFile, or cut by a cap or a capture gap
	XCutWindow uint64 // contents not stored: the window's bundle was full
	XErrors    uint64 // bundles that could not be written
	// Reduced counts the rows the log reduction dropped or folded, by
	// rule: "static", "repeat-U", "repeat-Q".
	Reduced map[string]uint64
}
