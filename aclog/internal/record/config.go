package record

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/bytesize"
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

	// Now is the clock of M's insert_time (when a row was stored);
	// nil means time.Now.
	Now func() time.Time `yaml:"-"`
}

// ReduceConfig is the log reduction (日志精简): rules that drop or fold
// rows an auditor does not need, each counted in Stats.Reduced.
// Every rule is a flag, so the config file (-config, keys are the flag
// names) sets them too.
//
// Defaults (on unless -reduce=false):
//   - static: U rows of static resources are dropped: GET or HEAD requests
//     whose response Content-Type is one of StaticTypes ("image/*" matches
//     every image type) or whose path ends in one of StaticExts;
//   - repeat: a U row repeating the same client, method, host and URI
//     within RepeatWindow (60 s) of the first is folded into it: the kept
//     row's repeat_count counts them and last_ts is the last one's time, so
//     reports still count requests. A Q row repeating the same client,
//     name, transport and type likewise. A fold never reaches past the end
//     of the row's 5-minute window.
//   - Tables says which tables the reduction touches (U, Q or both).
type ReduceConfig struct {
	Enabled      bool          `yaml:"enabled"`
	Tables       string        `yaml:"tables"` // letters: U, Q
	Static       bool          `yaml:"static"`
	StaticExts   List          `yaml:"static_exts"`
	StaticTypes  List          `yaml:"static_types"`
	RepeatWindow time.Duration `yaml:"repeat_window"` // 0 disables folding
	// MaxTracked bounds the rows held for folding; past it the rows due
	// first are written early.
	MaxTracked int `yaml:"max_tracked"`
}

// List is a comma-separated flag value.
type List []string

func (l *List) String() string { return strings.Join(*l, ",") }

// Set replaces the list (a flag given twice keeps the last).
func (l *List) Set(s string) error {
	*l = nil
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// DefaultStaticExts and DefaultStaticTypes are what the static rule drops
// unless configured otherwise.
var (
	DefaultStaticExts = List{".js", ".css", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".svg", ".webp", ".bmp",
		".woff", ".woff2", ".ttf", ".otf", ".eot", ".map"}
	DefaultStaticTypes = List{"image/*", "font/*", "text/css", "application/javascript", "text/javascript",
		"application/x-javascript"}
)

// DefaultConfig returns the defaults: 10 MB per file, 256 MB per window,
// 10 s grace, reduction on.
func DefaultConfig() Config {
	return Config{
		XMaxFile:   10 << 20,
		XMaxWindow: 256 << 20,
		XGrace:     10 * time.Second,
		Reduce: ReduceConfig{Enabled: true, Tables: "UQ", Static: true,
			StaticExts:   append(List(nil), DefaultStaticExts...),
			StaticTypes:  append(List(nil), DefaultStaticTypes...),
			RepeatWindow: time.Minute, MaxTracked: 1 << 16},
	}
}

// RegisterFlags adds the recorder's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	bytesize.IntVar(fs, &c.XMaxFile, "x-max-file", c.XMaxFile, "largest attachment/upload/FTP file stored in a window's X bundle, bytes")
	bytesize.IntVar(fs, &c.XMaxWindow, "x-max-window", c.XMaxWindow, "content one window's X bundle holds at most, bytes")
	fs.BoolVar(&c.Reduce.Enabled, "reduce", c.Reduce.Enabled, "log reduction (seed 001): drop U rows of static resources, fold repeated U and Q rows into the row kept, which counts them (repeat_count, last_ts)")
	fs.Func("reduce-tables", "with -reduce: the tables it touches, letters U and Q (default UQ)", func(s string) error {
		c.Reduce.Tables = strings.ToUpper(strings.NewReplacer(",", "", " ", "").Replace(s))
		return nil
	})
	fs.BoolVar(&c.Reduce.Static, "reduce-static", c.Reduce.Static, "with -reduce: drop U rows of static resources (GET/HEAD by -reduce-static-types or -reduce-static-exts)")
	fs.Var(&c.Reduce.StaticExts, "reduce-static-exts", "with -reduce-static: path extensions of static resources, comma separated")
	fs.Var(&c.Reduce.StaticTypes, "reduce-static-types", "with -reduce-static: response Content-Types of static resources, comma separated; type/* matches every subtype")
	fs.DurationVar(&c.Reduce.RepeatWindow, "reduce-repeat", c.Reduce.RepeatWindow, "with -reduce: fold a U or Q row repeating the same client and request within this interval of the first into it (0: never)")
	fs.IntVar(&c.Reduce.MaxTracked, "reduce-max-held", c.Reduce.MaxTracked, "with -reduce: rows held for folding at most; past it the oldest are written early")
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
	if strings.Trim(c.Reduce.Tables, "UQ") != "" {
		return fmt.Errorf("-reduce-tables %q: the log reduction touches U and Q only", c.Reduce.Tables)
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
