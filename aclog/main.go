// Command aclog captures packets (or reads captures), parses them into audit
// rows and writes the rows into sync_files and load_files. See
// aclog/internal/pipeline for the loop and aclog/internal/audit for the
// parsing.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acstore/acstore/aclog/internal/pipeline"
	"github.com/acstore/acstore/aclog/internal/source"
	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/retention"
	"github.com/acstore/acstore/internal/rootlock"
)

const usage = `aclog: turn packets into audit rows.

Usage:
  aclog -r FILE|DIR [YYYYMMDD]... -gateway GW [-reprocess] [-compress lz4|xz] [-high-performance]
  aclog -watch DIR [-watch-delete] -gateway GW ...
  aclog -i IFACE [-f BPF] -gateway GW [-compress lz4|xz] [-high-performance]

aclog reads pcap or pcapng files (-r; several, in order; files and flags in
any order; a directory is every capture in it in time order, DIR YYYYMMDD
only that day's), follows a directory tcpdump -G/-C rotates into (-watch),
or captures live (-i). It reassembles TCP and writes rows of the log tables: A sessions, U HTTP
requests, P POST/PUT bodies (form fields with passwords masked, uploads),
M mail (SMTP, POP3, IMAP: envelope, decoded headers and body, attachments),
C plaintext logins (FTP, POP3, IMAP, SMTP AUTH, HTTP Basic and login forms,
IRC, XMPP, Telnet; the password is never stored, only its length), O file
transfers (FTP RETR/STOR with their data connections, TFTP), I chat (IRC,
XMPP), S TLS handshakes, Q DNS queries, F traffic per user and app per
minute, T online time. Users, groups and apps come from the config tables in
DIR/config (users.tsv, groups.tsv, apps.tsv; see README).

Attachments, uploads and transferred files go into each window's
attachment bundle, DIR/sync/GW/YYYYMMDD/YYYYMMDD_HHMM_GW_X.dat, written
when the window closes; rows point at them by sha256 (-x-max-file,
-x-max-window cap them; what a cap leaves out is counted).

Log reduction (-reduce, on by default) drops U rows of static resources
(-reduce-static-types, -reduce-static-exts) and folds U and Q rows repeating
the same client and request within -reduce-repeat (60 s) into the row kept,
whose repeat_count and last_ts count them; -reduce-tables picks the tables.
Every rule is also a key of the -config file. The stats line and metrics
count every row dropped or folded. -reduce=false keeps them all.

Rows go to sync_files (DIR/sync/GW/YYYYMMDD/YYYYMMDD_HHMM_GW_T.dat, one per
table per 5-minute window, compressed, kept) and to load_files (DIR/load,
every -load-interval, for loader; not with -high-performance). With -r,
windows and day tables follow packet time: last week's capture fills last
week's tables. aclog exits when the files are read; live, SIGTERM flushes
and publishes everything it holds.

Live, aclog keeps the disk of the data root under -disk-high by removing
the oldest days datasync has shipped (above -disk-critical, unshipped days
too, oldest first, logged as errors), so it never has to stop writing
sync_files; load_files pause while loader is behind. One aclog per data
root.

Each capture file is processed once: aclog remembers it by content in
DIR/state/aclog and skips it the next time (-reprocess replaces its rows).
A capture interrupted part-way (crash, stop, full disk) is completed by
running the same command again: its rows are replaced with the same ids,
none doubled.
`

// files collects -r values; the flag may be repeated.
type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(s string) error { *f = append(*f, s); return nil }

func main() { daemon.Main("aclog", run) }

func run(args []string) error {
	fs := flag.NewFlagSet("aclog", flag.ContinueOnError)
	var common daemon.Common
	var cfg pipeline.Config
	var read files
	var disk retention.Watermarks
	common.RegisterFlags(fs)
	cfg.RegisterFlags(fs)
	disk.RegisterFlags(fs)
	var day string
	fs.Var(&read, "r", "read these pcap/pcapng files or directories of captures (files and flags in any order)")
	fs.StringVar(&day, "day", "", "with -r DIR: only the captures whose first packet is on this day (YYYYMMDD)")
	fs.Usage = daemon.Usage(fs, usage)
	rest, err := daemon.ParseInterspersed(fs, args, &common)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, log, stop, err := common.Start("aclog")
	if err != nil {
		return err
	}
	defer stop()
	files, skipped, err := source.Expand(append(read, rest...), day)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		log.Warn("not a capture file; left out", "file", s)
	}
	if len(files) == 0 && (len(read)+len(rest) > 0) {
		return errors.New("no capture file found in " + strings.Join(append(read, rest...), " "))
	}
	cfg.Files = files
	cfg.Root, cfg.Logger = common.Data, log
	if err := disk.Validate(); err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.Audit.MemoryLimit())
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		return err
	}
	// One aclog per root: two would append to the same sync_files.
	lock, err := rootlock.Acquire(cfg.Root, "aclog")
	if err != nil {
		return err
	}
	defer lock.Release()
	return runPipeline(ctx, log, &common, cfg, disk, p)
}

// runPipeline runs p, with the pruner of disk beside it when capturing
// live or following a directory, until the captures end or ctx does.
func runPipeline(ctx context.Context, log *slog.Logger, common *daemon.Common, cfg pipeline.Config, disk retention.Watermarks, p *pipeline.Pipeline) error {
	// Live capture runs for months: keep the disk under its watermarks.
	// Reading files (-r) writes past days, which must not be pruned
	// under it; following a directory (-watch) writes today's.
	pr := retention.New(retention.Config{Root: cfg.Root, Marks: disk, Logger: log})
	register := func(reg prometheus.Registerer) { p.Register(reg); pr.Register(reg, "aclog") }
	if err := common.Observe(ctx, log, register, p.StatsLine); err != nil {
		return err
	}
	if cfg.Iface != "" || cfg.Watch != "" {
		go pr.Run(ctx)
	}
	log.Info("aclog started", common.ConfigAttr(), "data", cfg.Root, "gateway", cfg.Gateway, "files", len(cfg.Files), "iface", cfg.Iface, "watch", cfg.Watch,
		"compress", cfg.Codec.String(), "high_performance", cfg.HighPerformance)
	err := p.Run(ctx)
	log.Info("aclog stopped", p.StatsLine()...)
	if s := p.Snapshot(); err == nil && len(cfg.Files) > 0 && s.BadFiles == len(cfg.Files) {
		return errors.New("no capture file could be read")
	}
	return err
}
