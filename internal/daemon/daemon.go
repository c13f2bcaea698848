// Package daemon holds what every acstore program does the same way: a
// config file that sets the same things as the flags, structured logs, a
// context cancelled by SIGINT/SIGTERM, the one-line stats report every 10
// seconds, and the Prometheus metrics endpoint.
package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gopkg.in/yaml.v3"
)

// Common are the flags every program has.
type Common struct {
	Data        string
	DSN         string
	ConfigFile  string
	LogLevel    string
	LogJSON     bool
	MetricsAddr string
	StatsEvery  time.Duration
}

// RegisterFlags adds the common flags to fs.
func (c *Common) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Data, "data", "/var/lib/acstore", "data root: sync/ holds the sync_files, load/ the load_files, state/ the ledgers")
	fs.StringVar(&c.DSN, "dsn", DefaultDSN(),
		"database, go-sql-driver/mysql form; the database in it is created if missing (default: $"+DSNEnv+", else the development instance of make db-up)")
	fs.StringVar(&c.ConfigFile, "config", "", "YAML file of flag values (`flag: value` lines); flags on the command line win")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.LogJSON, "log-json", false, "log JSON lines instead of text")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. :9310); empty: off")
	fs.DurationVar(&c.StatsEvery, "stats-interval", 10*time.Second, "how often to log the one-line stats report; 0: never")
}

// DSNEnv is the environment variable that gives every program its -dsn
// default, so a password need not be on every command line.
const DSNEnv = "ACSTORE_DSN"

// DevDSN is the private development instance that make db-up starts.
const DevDSN = "acstore:acstore@tcp(127.0.0.1:3407)/acstore"

// DefaultDSN is $ACSTORE_DSN, else DevDSN.
func DefaultDSN() string {
	if v := os.Getenv(DSNEnv); v != "" {
		return v
	}
	return DevDSN
}

// helpRequested reports whether args ask for -h (before a "--"): the help
// then goes to standard output, as asked-for output does, and the program
// exits 0. Usage after a mistake goes to standard error.
func helpRequested(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--h", "-help", "--help":
			return true
		}
	}
	return false
}

// HelpToStdout sends fs's usage to standard output when args ask for -h,
// for programs that parse without Parse.
func HelpToStdout(fs *flag.FlagSet, args []string) {
	if helpRequested(args) {
		fs.SetOutput(os.Stdout)
	}
}

// Parse parses args into fs, then applies the config file named by the
// -config flag for every flag not given on the command line.
func Parse(fs *flag.FlagSet, args []string, c *Common) error {
	if helpRequested(args) {
		fs.SetOutput(os.Stdout)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.ConfigFile == "" {
		return nil
	}
	return ApplyConfigFile(fs, c.ConfigFile)
}

// ParseInterspersed is Parse for a program that takes arguments (capture
// files, say) among its flags, in any order: Go's flag package stops at the
// first argument that is not a flag, so "a.pcap b.pcap -gateway X" would
// ignore -gateway. Everything after "--" is an argument. It returns the
// arguments in their order.
func ParseInterspersed(fs *flag.FlagSet, args []string, c *Common) ([]string, error) {
	if helpRequested(args) {
		fs.SetOutput(os.Stdout)
	}
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if used := len(args) - len(left); used > 0 && args[used-1] == "--" {
			rest = append(rest, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
	if c.ConfigFile == "" {
		return rest, nil
	}
	return rest, ApplyConfigFile(fs, c.ConfigFile)
}

// ApplyConfigFile reads a YAML map of flag names to values and sets each
// flag that the command line did not set.
func ApplyConfigFile(fs *flag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range values {
		if fs.Lookup(name) == nil {
			return fmt.Errorf("config %s: unknown setting %q (settings are the flag names; see -h)", path, name)
		}
		if set[name] {
			continue
		}
		var s string
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ",")
		default:
			s = fmt.Sprint(v)
		}
		if err := fs.Set(name, s); err != nil {
			if g, ok := fs.Lookup(name).Value.(flag.Getter); ok {
				if _, isDuration := g.Get().(time.Duration); isDuration {
					return fmt.Errorf("config %s: %s: %q is not a duration: write it with its unit, like 5s, 1m or 1h30m", path, name, s)
				}
			}
			return fmt.Errorf("config %s: %s: %w", path, name, err)
		}
	}
	return nil
}

// ConfigAttr names the config file in a start-up line ("none" without
// -config), so that an operator sees which file the settings came from.
func (c *Common) ConfigAttr() slog.Attr {
	if c.ConfigFile == "" {
		return slog.String("config", "none")
	}
	if abs, err := filepath.Abs(c.ConfigFile); err == nil {
		return slog.String("config", abs)
	}
	return slog.String("config", c.ConfigFile)
}

// Logger returns the program's logger.
func (c *Common) Logger(program string) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if c.LogJSON {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(h).With("prog", program), nil
}

// SignalContext returns a context cancelled by SIGINT or SIGTERM, so a
// daemon can flush what it holds and exit cleanly.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// NewRegistry returns a Prometheus registry with the Go and process
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// ServeMetrics serves reg on addr under /metrics until ctx ends. An empty
// addr serves nothing.
func ServeMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return nil
}

// Observe starts what runs beside every daemon's work until ctx ends: the
// metrics endpoint (-metrics-addr) serving the collectors register adds,
// the stats line (-stats-interval) that line returns, and, under systemd,
// readiness and watchdog notifications.
func (c *Common) Observe(ctx context.Context, log *slog.Logger, register func(prometheus.Registerer), line func() []any) error {
	reg := NewRegistry()
	register(reg)
	if err := ServeMetrics(ctx, c.MetricsAddr, reg, log); err != nil {
		return err
	}
	go StatsLoop(ctx, c.StatsEvery, log, line)
	go notifySystemd(ctx, log, line)
	return nil
}

// StatsLoop logs one line of stats every interval until ctx ends, in the
// spirit of MRTE-Collector's periodic report. attrs returns the line's
// key/value pairs.
func StatsLoop(ctx context.Context, every time.Duration, log *slog.Logger, attrs func() []any) {
	if every <= 0 {
		return
	}
	start := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Counters are totals since the program started: say so, so
			// nobody reads them as per-interval numbers.
			log.Info("stats (totals since start)", append(attrs(), slog.Duration("up", time.Since(start).Round(time.Second)))...)
		}
	}
}

// Usage returns a flag usage function that prints a description before the
// flags.
func Usage(fs *flag.FlagSet, text string) func() {
	return func() {
		fmt.Fprint(fs.Output(), strings.TrimLeft(text, "\n"))
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
}

// Counter is the Prometheus counter acstore_<sub>_<name>, read from v at
// each scrape.
func Counter(sub, name, help string, v *atomic.Uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "acstore", Subsystem: sub, Name: name, Help: help},
		func() float64 { return float64(v.Load()) })
}

// Gauge is the Prometheus gauge acstore_<sub>_<name>, read from f at each
// scrape.
func Gauge(sub, name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "acstore", Subsystem: sub, Name: name, Help: help}, f)
}
