// Command aclog captures packets (or reads captures), parses them into audit
// rows and writes the rows into sync_files and load_files. See
// aclog/internal/pipeline for the loop and aclog/internal/audit for the
// parsing.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/acstore/acstore/aclog/internal/pipeline"
	"github.com/acstore/acstore/internal/daemon"
)

const usage = `aclog: turn packets into audit rows.

Usage:
  aclog -r FILE... -gateway GW [-compress lz4|xz] [-high-performance]
  aclog -i IFACE [-f BPF] -gateway GW [-compress lz4|xz] [-high-performance]

aclog reads pcap or pcapng files (-r; several, in order) or captures live
(-i), reassembles TCP and writes rows of the log tables: A sessions, U HTTP
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
(images, style sheets, scripts, fonts) and folds U and Q rows repeating the
same client and request within -reduce-repeat (60 s); the stats line and
metrics count every row it dropped or folded. -reduce=false keeps them all.

Rows go to sync_files (DIR/sync/GW/YYYYMMDD/YYYYMMDD_HHMM_GW_T.dat, one per
table per 5-minute window, compressed, kept) and to load_files (DIR/load,
every -load-interval, for loader; not with -high-performance). With -r,
windows and day tables follow packet time: last week's capture fills last
week's tables. aclog exits when the files are read; live, SIGTERM flushes
and publishes everything it holds.
`

// files collects -r values; the flag may be repeated.
type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(s string) error { *f = append(*f, s); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "aclog:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("aclog", flag.ContinueOnError)
	var common daemon.Common
	var cfg pipeline.Config
	var read files
	common.RegisterFlags(fs)
	cfg.RegisterFlags(fs)
	fs.Var(&read, "r", "read this pcap/pcapng file (repeatable; files after the flags are read too)")
	fs.Usage = daemon.Usage(fs, usage)
	if err := daemon.Parse(fs, args, &common); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg.Files = append(read, fs.Args()...)
	log, err := common.Logger("aclog")
	if err != nil {
		return err
	}
	cfg.Root, cfg.Logger = common.Data, log
	p, err := pipeline.New(cfg)
	if err != nil {
		return err
	}
	unlock, err := lockRoot(cfg.Root)
	if err != nil {
		return err
	}
	defer unlock()

	ctx, stop := daemon.SignalContext()
	defer stop()
	if err := common.Observe(ctx, log, p.Register, p.StatsLine); err != nil {
		return err
	}
	log.Info("aclog started", "data", cfg.Root, "gateway", cfg.Gateway, "files", len(cfg.Files), "iface", cfg.Iface,
		"compress", cfg.Codec.String(), "high_performance", cfg.HighPerformance)
	err = p.Run(ctx)
	log.Info("aclog stopped", p.StatsLine()...)
	if s := p.Snapshot(); err == nil && len(cfg.Files) > 0 && s.BadFiles == len(cfg.Files) {
		return errors.New("no capture file could be read")
	}
	return err
}

// lockRoot makes sure one aclog at a time writes a data root: two would
// append to the same sync_files.
func lockRoot(root string) (func(), error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(root, "aclog.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another aclog is writing %s (lock %s held)", root, path)
	}
	return func() { f.Close() }, nil
}
