// Command console is acstore's web console: search, reports with charts
// from midtable's rollups, mail and attachments, branch status, users with
// roles, and a record of who looked at what. See internal/console/web.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/acstore/acstore/internal/console/account"
	"github.com/acstore/acstore/internal/console/web"
	"github.com/acstore/acstore/internal/daemon"
	"github.com/acstore/acstore/internal/mariadb"
	"github.com/acstore/acstore/internal/shard"
	"github.com/acstore/acstore/internal/spider"
)

const usage = `console: the web console of acstore.

Usage:
  console -listen ADDR -tls-cert F -tls-key F -data DIR -dsn DSN
  console -listen 127.0.0.1:8080 -insecure -data DIR -dsn DSN
  console -listen ADDR -tls-cert F -tls-key F -data DIR -shards shards.yaml
  console user add -name NAME -role admin|auditor [-gateways GW,GW] [-groups 'G;G'] [-password-file F] -dsn DSN
  console user delete -name NAME -dsn DSN
  console user list -dsn DSN

Serves, over HTTPS (plain HTTP only with -insecure), the pages where people
use the logs of the -dsn database and the -data root:
  Search    any log table (A U P M C O I S Q) over days, by gateway, user,
            group, IP or CIDR, app and a text field; newest first, paged,
            with the total; each row opens its detail, a mail its headers,
            body and attachments (read by sha256 from the X store).
  Reports   traffic by user, group, app and app type, trends, online time,
            web use, top hosts and URLs, from midtable's rollups through
            its planner; each with its chart, a CSV download and the tables
            it read.
  Branches  datasync's state: per gateway the last window received and
            loaded, lag, backlog, errors; disk.
  Users     (admins) accounts with roles: admin, or auditor optionally
            limited to some gateways and groups.
  Audit     (admins) every search, report, download and refusal, with who,
            when, from where and the filter as given.

With -shards (a head office past one server, docs/scale.md) the logs and
rollups are read through the map's Spider front, only from the shards that
answer: a page whose shards are not all up says which are missing. The
console's own tables are on the default shard.

Passwords are hashed with bcrypt; sessions are random ids in HttpOnly,
SameSite=Strict cookies; every form carries a CSRF token; logins are rate
limited per address and name. Create the first admin with "console user
add"; without -password-file a random password is generated and printed.
`

func main() { daemon.Main("console", run) }

func run(args []string) error {
	if len(args) > 0 && args[0] == "user" {
		return userCmd(args[1:])
	}
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	var common daemon.Common
	common.RegisterFlags(fs)
	listen := fs.String("listen", "127.0.0.1:8443", "address to serve on")
	cert := fs.String("tls-cert", "", "PEM certificate of the console")
	key := fs.String("tls-key", "", "PEM private key of -tls-cert")
	insecure := fs.Bool("insecure", false, "plain HTTP without TLS (passwords travel in clear: loopback or tests only)")
	failures := fs.Int("login-failures", 5, "failed logins of one name from one address before it is locked out (4x for any names)")
	lockout := fs.Duration("login-lockout", 0, "how long a locked-out address waits (default 5m)")
	var shards shard.Flag
	shards.Register(fs)
	fs.Usage = daemon.Usage(fs, usage)
	if err := daemon.Parse(fs, args, &common); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, log, stop, err := common.Start("console")
	if err != nil {
		return err
	}
	defer stop()
	if !*insecure && (*cert == "" || *key == "") {
		return errors.New("need -tls-cert and -tls-key (or -insecure for plain HTTP)")
	}
	cfg := web.Config{Root: common.Data, Log: log, Secure: !*insecure, MaxFailures: *failures, Lockout: *lockout}
	set, db, err := shards.Open(ctx, common.DSN)
	if err != nil {
		return err
	}
	defer set.Close()
	if db == nil {
		// Past one server: the console's own tables on the default shard,
		// the logs read through the Spider front.
		if db, err = set.Default(ctx); err != nil {
			return err
		}
		if cfg.Front, err = spider.New(set, log); err != nil {
			return fmt.Errorf("-shards %s: the console reads through the front: %w", shards.Path, err)
		}
		defer cfg.Front.Close()
		shards.Watch(ctx, set, log)
	}
	cfg.DB = db
	return serve(ctx, log, &common, cfg, *listen, *cert, *key, *insecure)
}

// serve runs the console of cfg on listen, over TLS with cert and key
// unless insecure, until ctx ends.
func serve(ctx context.Context, log *slog.Logger, common *daemon.Common, cfg web.Config, listen, cert, key string, insecure bool) error {
	srv, err := web.New(ctx, cfg)
	if err != nil {
		return err
	}
	var tlsCfg *tls.Config
	if !insecure {
		if tlsCfg, err = web.TLSConfig(cert, key); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	scheme := "https"
	if insecure {
		scheme = "http"
	}
	log.Info("serving", "url", scheme+"://"+ln.Addr().String()+"/", "data", common.Data)
	if err := common.Observe(ctx, log, srv.Register, srv.StatsLine); err != nil {
		return err
	}
	return srv.Listen(ctx, ln, tlsCfg)
}

const userUsage = `console user: manage the console's accounts.

  console user add -name NAME -role admin|auditor [-gateways GW,GW] [-groups 'G;G'] [-password-file F]
  console user delete -name NAME
  console user list

add creates or replaces a user. The password is read from -password-file
(its first line), or generated and printed when the flag is absent.
`

func userCmd(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stdout, userUsage)
		return nil
	}
	verb := args[0]
	if verb != "add" && verb != "delete" && verb != "list" {
		return fmt.Errorf("user %s: want add, delete or list", verb)
	}
	fs := flag.NewFlagSet("console user "+verb, flag.ContinueOnError)
	dsn := fs.String("dsn", daemon.DefaultDSN(), "database, go-sql-driver/mysql form (default: $"+daemon.DSNEnv+", else the development instance)")
	name := fs.String("name", "", "user name")
	role := fs.String("role", "auditor", "admin or auditor")
	gws := fs.String("gateways", "", "auditor: only these gateways, comma separated (default all)")
	groups := fs.String("groups", "", "auditor: only these groups, ; separated (default all)")
	pwFile := fs.String("password-file", "", "file whose first line is the password (default: generate one)")
	fs.Usage = daemon.Usage(fs, userUsage)
	daemon.HelpToStdout(fs, args[1:])
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx := context.Background()
	db, err := mariadb.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	store, err := account.Open(ctx, db)
	if err != nil {
		return err
	}
	switch verb {
	case "add":
		return addUser(ctx, store, *name, *role, *gws, *groups, *pwFile)
	case "delete":
		return store.Delete(ctx, *name)
	case "list":
		users, err := store.List(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			fmt.Printf("%s\t%s\t%s\t%s\n", u.Name, u.Role, strings.Join(u.Gateways, ","), strings.Join(u.Groups, ";"))
		}
		return nil
	}
	return fmt.Errorf("user %s: want add, delete or list", verb)
}

// addUser creates or replaces the user name with role, limited to gws
// (comma separated) and groups (; separated) when given, with the password
// of pwFile or, without it, one generated and printed.
func addUser(ctx context.Context, store *account.Store, name, role, gws, groups, pwFile string) error {
	u := account.User{Name: name, Role: account.Role(role)}
	if gws != "" {
		u.Gateways = strings.Split(gws, ",")
	}
	if groups != "" {
		u.Groups = strings.Split(groups, ";")
	}
	pw, generated, err := password(pwFile)
	if err != nil {
		return err
	}
	if err := store.Put(ctx, u, pw); err != nil {
		return err
	}
	if generated {
		fmt.Printf("user %s (%s) password: %s\n", u.Name, u.Role, pw)
	} else {
		fmt.Printf("user %s (%s) stored\n", u.Name, u.Role)
	}
	return nil
}

func password(file string) (string, bool, error) {
	if file == "" {
		var b [15]byte
		rand.Read(b[:])
		return base64.RawURLEncoding.EncodeToString(b[:]), true, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", false, fmt.Errorf("-password-file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	return sc.Text(), false, sc.Err()
}
