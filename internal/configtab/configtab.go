// Package configtab reads the config tables of an appliance — users (an
// address or CIDR to a user and group), groups (a tree) and apps (names,
// types and match rules) — and answers the questions aclog asks of them:
// who is this address, which app is this port, host or server name.
//
// The tables are files <data>/config/users.tsv, groups.tsv and apps.tsv in
// the row text of every acstore file (tab separated, LOAD DATA escapes), with
// the columns of schema.ConfigTables() except gw. datasync ships them to
// head office as they are. A missing file is an empty table; apps falls back
// to a built-in list.
package configtab

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
)

// File names of the config tables under <data>/config.
const (
	UsersFile  = "users.tsv"
	GroupsFile = "groups.tsv"
	AppsFile   = "apps.tsv"
)

// Dir returns the config directory under a data root.
func Dir(root string) string { return dataroot.Root(root).Config() }

// User maps an address range to a user and group.
type User struct {
	Prefix netip.Prefix
	Name   string
	Group  string
}

// Group is a node of the group tree; Path is "parent/child".
type Group struct {
	Path   string
	Parent string
}

// App is a match rule: Kind "port" (Rule "tcp/443"), "host" (a host name
// or a suffix "*.example.com" matched against HTTP Host and TLS SNI).
type App struct {
	Name string
	Type string
	Kind string
	Rule string
}

// Tables holds the config tables.
type Tables struct {
	Users  []User // longest prefix first
	Groups []Group
	Apps   []App

	ports map[string]int // "tcp/443" -> index in Apps
	hosts map[string]int // exact or suffix (".example.com") -> index
}

// Load reads the tables in dir.
func Load(dir string) (*Tables, error) {
	t := &Tables{}
	err := readRows(filepath.Join(dir, UsersFile), 3, func(f []string) error {
		p, err := parsePrefix(f[0])
		if err != nil {
			return err
		}
		t.Users = append(t.Users, User{Prefix: p, Name: f[1], Group: f[2]})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readRows(filepath.Join(dir, GroupsFile), 2, func(f []string) error {
		t.Groups = append(t.Groups, Group{Path: f[0], Parent: f[1]})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readRows(filepath.Join(dir, AppsFile), 4, func(f []string) error {
		t.Apps = append(t.Apps, App{Name: f[0], Type: f[1], Kind: f[2], Rule: f[3]})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(t.Apps) == 0 {
		t.Apps = DefaultApps()
	}
	t.index()
	return t, nil
}

// New builds tables from values, for tests and defaults.
func New(users []User, groups []Group, apps []App) *Tables {
	t := &Tables{Users: users, Groups: groups, Apps: apps}
	if len(t.Apps) == 0 {
		t.Apps = DefaultApps()
	}
	t.index()
	return t
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (t *Tables) index() {
	sort.SliceStable(t.Users, func(i, j int) bool { return t.Users[i].Prefix.Bits() > t.Users[j].Prefix.Bits() })
	t.ports = make(map[string]int)
	t.hosts = make(map[string]int)
	for i, a := range t.Apps {
		rule := strings.ToLower(a.Rule)
		switch a.Kind {
		case "port":
			if _, ok := t.ports[rule]; !ok {
				t.ports[rule] = i
			}
		case "host", "sni":
			rule = strings.TrimPrefix(rule, "*")
			if _, ok := t.hosts[rule]; !ok {
				t.hosts[rule] = i
			}
		}
	}
}

func readRows(path string, cols int, fn func([]string) error) error {
	s, err := logfile.OpenRows(path, logfile.Plain)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	defer s.Close()
	rows := logfile.NewRows(s)
	for rows.Next() {
		if len(rows.Row()) == 0 || rows.Row()[0] == '#' {
			continue
		}
		fields, err := logfile.SplitRow(rows.Row())
		if err != nil || len(fields) != cols {
			return fmt.Errorf("config %s line %d: want %d tab-separated fields", path, rows.Count(), cols)
		}
		vals := make([]string, cols)
		for i, f := range fields {
			vals[i] = string(f.Value)
		}
		if err := fn(vals); err != nil {
			return fmt.Errorf("config %s line %d: %w", path, rows.Count(), err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Who returns the user and group of an address; an unknown address is
// recorded as itself, with no group.
func (t *Tables) Who(a netip.Addr) (user, group string) {
	if u, ok := t.User(a); ok {
		return u.Name, u.Group
	}
	return a.Unmap().String(), ""
}

// User returns the configured user whose address range holds a. Who is
// it with an unknown address's text built.
func (t *Tables) User(a netip.Addr) (*User, bool) {
	a = a.Unmap()
	for i := range t.Users {
		if t.Users[i].Prefix.Contains(a) {
			return &t.Users[i], true
		}
	}
	return nil, false
}

// ByPort returns the app of a transport and server port ("tcp", 443).
func (t *Tables) ByPort(proto string, port uint16) (App, bool) {
	i, ok := t.ports[proto+"/"+strconv.Itoa(int(port))]
	if !ok {
		return App{}, false
	}
	return t.Apps[i], true
}

// ByHost returns the app of an HTTP host or TLS server name: an exact rule,
// else the longest matching suffix rule.
func (t *Tables) ByHost(host string) (App, bool) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if i, ok := t.hosts[host]; ok {
		return t.Apps[i], true
	}
	for j := 0; j < len(host); j++ {
		if host[j] != '.' {
			continue
		}
		if i, ok := t.hosts[host[j:]]; ok {
			return t.Apps[i], true
		}
	}
	return App{}, false
}

// DefaultApps is the built-in app list used when apps.tsv is absent.
func DefaultApps() []App {
	return []App{
		{"HTTP", "web", "port", "tcp/80"},
		{"HTTP", "web", "port", "tcp/8080"},
		{"HTTPS", "web", "port", "tcp/443"},
		{"DNS", "network", "port", "udp/53"},
		{"DNS", "network", "port", "tcp/53"},
		{"SMTP", "mail", "port", "tcp/25"},
		{"SMTP", "mail", "port", "tcp/587"},
		{"SMTPS", "mail", "port", "tcp/465"},
		{"POP3", "mail", "port", "tcp/110"},
		{"POP3S", "mail", "port", "tcp/995"},
		{"IMAP", "mail", "port", "tcp/143"},
		{"IMAPS", "mail", "port", "tcp/993"},
		{"FTP", "file transfer", "port", "tcp/21"},
		{"FTP", "file transfer", "port", "tcp/20"},
		{"TFTP", "file transfer", "port", "udp/69"},
		{"SSH", "remote access", "port", "tcp/22"},
		{"Telnet", "remote access", "port", "tcp/23"},
		{"RDP", "remote access", "port", "tcp/3389"},
		{"NTP", "network", "port", "udp/123"},
		{"NetBIOS", "network", "port", "udp/137"},
		{"mDNS", "network", "port", "udp/5353"},
		{"LLMNR", "network", "port", "udp/5355"},
		{"SSDP", "network", "port", "udp/1900"},
		{"DHCP", "network", "port", "udp/67"},
		{"IRC", "chat", "port", "tcp/6667"},
		{"XMPP", "chat", "port", "tcp/5222"},
		{"MySQL", "database", "port", "tcp/3306"},
		{"Google", "search", "host", "*.google.com"},
		{"Google", "search", "host", "*.gstatic.com"},
		{"Cloudflare", "cdn", "host", "*.cloudflare.com"},
		{"Wikipedia", "reference", "host", "*.wikipedia.org"},
		{"Wikipedia", "reference", "host", "*.wikimedia.org"},
		{"Microsoft", "software", "host", "*.microsoft.com"},
		{"Microsoft", "software", "host", "*.windowsupdate.com"},
		{"Apple", "software", "host", "*.apple.com"},
		{"Apple", "software", "host", "*.icloud.com"},
		{"GitHub", "development", "host", "*.github.com"},
		{"Mozilla", "software", "host", "*.mozilla.org"},
		{"Mozilla", "software", "host", "*.mozilla.com"},
		{"Yahoo", "mail", "host", "*.yahoo.com"},
	}
}
