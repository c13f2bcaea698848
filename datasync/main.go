// Command datasync ships sync_files from branch appliances to head office:
// `datasync push` on every branch, `datasync serve` at head office, and
// `datasync status` for either. See internal/datasync for the protocol.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"syscall"

	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/rootlock"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/spider"
)

const usage = `datasync: ship sync_files from branch appliances to head office.

Usage:
  datasync serve  -listen ADDR -gateways FILE -tls-cert F -tls-key F [-tls-ca F] -data DIR -dsn DSN
  datasync push   -server URL -gateway GW -secret-file F [-once] [-compress lz4|xz] [-bwlimit 2MB/s] -data DIR
  datasync status -data DIR

Run "datasync SUBCOMMAND -h" for the flags of each.
`

const serveUsage = `datasync serve: the head-office server.

Receives sync_files from hundreds of branches over HTTPS (HTTP/1.1 or
HTTP/2). Each gateway authenticates with its secret from -gateways (one
"GW SECRET" a line) and, with -tls-ca, a client certificate whose common
name is the gateway; it may write only its own files. Files arrive under
-data/sync/<GW>/<YYYYMMDD>/ (resumable, every frame checksummed, the whole
file's sha256 checked before an atomic rename), attachment bundles are
unpacked into -data/attachments/<GW>/<YYYYMMDD>/<sha256>, config tables go
to -data/config/<GW>/. After each complete window the rows are loaded into
the -dsn database by loader in keep mode: up to -load-workers gateways at
once, each gateway's files in order, and a file bigger than
-load-statement-bytes of rows in several statements, so that one branch's
huge file does not hold back the others. Plaintext HTTP only with
-insecure.

Housekeeping, every minute: partial uploads idle for longer than
-incoming-ttl are removed (a branch resuming later sends the file again
from the start); -keep-days N removes every gateway's days older than N
(sync_files, attachments, day tables, rollups); above -disk-high the oldest
days go until the disk is below (see loader -h). SIGHUP reads -gateways and
the TLS certificate, key and CA again without dropping connections. One
server per data root.
`

const pushUsage = `datasync push: the branch client.

Ships -data/sync/<GW>/ window by window, oldest first: the config tables in
-data/config (users.tsv, groups.tsv, apps.tsv; skipped when the server has
the same md5), then the log tables A-U-P-M-C-O-I-S-F-Q-T, then the window's
X bundle, then a commit. Windows still open (.part files) wait. A cut
transfer resumes where the server says it is; failures are retried with
exponential backoff and jitter. What was shipped is remembered in
-data/state/datasync/client.json (a corrupt one is set aside and rebuilt by
asking the server). With -once: ship what is ready and exit (0 if all went).
`

const statusUsage = `datasync status: what datasync has done with -data.

On a branch: the last window shipped, lag and backlog per table, the last
success and the last error. At head office: per gateway, the last window
received and the last window loaded into the database.
`

func main() { daemon.Main("datasync", run) }

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("give a subcommand: serve, push or status")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help" {
		fmt.Fprint(os.Stdout, usage) // asked for: standard output, exit 0
		return nil
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:])
	case "push":
		err = push(args[1:])
	case "status":
		err = status(args[1:])
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func parse(name, text string, args []string, register func(fs *flag.FlagSet)) (*daemon.Common, error) {
	fs := flag.NewFlagSet("datasync "+name, flag.ContinueOnError)
	var common daemon.Common
	common.RegisterFlags(fs)
	register(fs)
	fs.Usage = daemon.Usage(fs, text)
	if err := daemon.Parse(fs, args, &common); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (see datasync %s -h)", fs.Args(), name)
	}
	return &common, nil
}

func serve(args []string) error {
	var cfg datasync.ServerConfig
	var shards shard.Flag
	common, err := parse("serve", serveUsage, args, func(fs *flag.FlagSet) { cfg.RegisterFlags(fs); shards.Register(fs) })
	if err != nil {
		return err
	}
	ctx, log, stop, err := common.Start("datasync")
	if err != nil {
		return err
	}
	defer stop()
	cfg.Root, cfg.Logger = common.Data, log
	if err := cfg.Validate(); err != nil {
		return err
	}
	set, db, err := shards.Open(ctx, common.DSN)
	if err != nil {
		return err
	}
	defer set.Close()
	if shards.Path != "" {
		cfg.Shards = set
	}
	if set.Map().Front != "" {
		front, err := spider.New(set, log)
		if err != nil {
			return err
		}
		defer front.Close()
		cfg.Front = front
	}
	lock, err := rootlock.Acquire(cfg.Root, "datasync-serve")
	if err != nil {
		return err
	}
	defer lock.Release()
	srv, err := datasync.NewServer(cfg, db)
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.ReloadOn(ctx, syscall.SIGHUP)
	shards.Watch(ctx, set, log)
	if err := common.Observe(ctx, log, srv.Register, srv.StatsLine); err != nil {
		return err
	}
	log.Info("datasync serve started", append([]any{common.ConfigAttr(), "data", cfg.Root, "listen", cfg.Listen},
		cfg.Disk.Attrs(cfg.KeepDays)...)...)
	err = srv.Run(ctx)
	log.Info("datasync server stopped", append([]any{"err", err}, srv.StatsLine()...)...)
	return err
}

func push(args []string) error {
	var cfg datasync.ClientConfig
	var once bool
	common, err := parse("push", pushUsage, args, func(fs *flag.FlagSet) {
		cfg.RegisterFlags(fs)
		fs.BoolVar(&once, "once", false, "ship every window ready now, then exit (0 if all shipped)")
	})
	if err != nil {
		return err
	}
	ctx, log, stop, err := common.Start("datasync")
	if err != nil {
		return err
	}
	defer stop()
	cfg.Root, cfg.Logger = common.Data, log
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Two pushes on one root would both write its state.
	lock, err := rootlock.Acquire(cfg.Root, "datasync-push")
	if err != nil {
		return err
	}
	defer lock.Release()
	c, err := datasync.NewClient(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if once {
		err := c.RunOnce(ctx)
		st := c.Stats()
		log.Info("push done", "files", st.Files.Load(), "already_there", st.Skipped.Load(), "windows", st.Windows.Load(),
			"bytes", st.Bytes.Load(), "wire_bytes", st.WireBytes.Load(), "watermark", c.Watermark())
		return err
	}
	if err := common.Observe(ctx, log, c.Register, c.StatsLine); err != nil {
		return err
	}
	log.Info("datasync push started", common.ConfigAttr(), "server", cfg.Server, "gateway", cfg.Gateway, "compress", cfg.Codec.String())
	return c.Run(ctx)
}

func status(args []string) error {
	var gw string
	common, err := parse("status", statusUsage, args, func(fs *flag.FlagSet) {
		fs.StringVar(&gw, "gateway", "", "branch: the gateway id (default: the one in the state file)")
	})
	if err != nil {
		return err
	}
	return datasync.PrintStatus(os.Stdout, common.Data, gw)
}
