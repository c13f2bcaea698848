package rowgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/logfile"
)

// GroupedConfig configures Grouped.
type GroupedConfig struct {
	Root    string
	Gateway string
	Codec   logfile.Codec
	Seed    uint64
	Start   time.Time // first window; rows fall in Windows 5-minute windows from here
	Windows int
	// RowsPerWindow is the rows of each table (Letters) per window.
	RowsPerWindow int
	Letters       string // default "AFTU"
	Users         int    // distinct users (default 40); groups and addresses follow
	Apps          int    // distinct applications (default 12)
	// Nasty names some users, groups and apps with bytes that break naive
	// code: tabs, newlines, backslashes, "\N", invalid UTF-8, values longer
	// than their column.
	Nasty bool
}

// person is a user as the generator draws it: user, group, address. Any of
// them may be absent (NULL), as for an address no config table names.
type person struct {
	user, grp *string
	ip        netip.Addr
}

type app struct{ name, typ *string }

// Grouped writes rows of the A, F, T and U tables through the real Spool
// (high-performance mode: sync_files only), drawing users, groups,
// addresses and apps from small sets so that rollups really group, unlike
// Gen which draws every field at random. It returns the rows written per
// table.
func Grouped(cfg GroupedConfig) (map[byte]int, error) {
	if cfg.Letters == "" {
		cfg.Letters = "AFTU"
	}
	if cfg.Users <= 0 {
		cfg.Users = 40
	}
	if cfg.Apps <= 0 {
		cfg.Apps = 12
	}
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: cfg.Root, Gateway: cfg.Gateway, Codec: cfg.Codec,
		HighPerformance: true, MaxFrameBytes: 8 << 20})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5bd1e995))
	people := groupedPeople(cfg, rng)
	apps := groupedApps(cfg)
	// A skewed draw: a few heavy users and apps, as on a real link.
	pick := func(n int) int { return min(n-1, int(rng.ExpFloat64()*float64(n)/4)) }
	count := make(map[byte]int)
	for w := range cfg.Windows {
		win := cfg.Start.Add(time.Duration(w) * logfile.WindowLength)
		for _, l := range []byte(cfg.Letters) {
			for range cfg.RowsPerWindow {
				ts := win.Add(time.Duration(rng.Int64N(int64(logfile.WindowLength))))
				p := people[pick(len(people))]
				a := apps[pick(len(apps))]
				if err := groupedRow(sp.Begin(l, ts), rng, l, win, ts, p, a); err != nil {
					return count, err
				}
				if err := sp.Commit(); err != nil {
					return count, err
				}
				count[l]++
			}
		}
		// Publish each window once it is over, as aclog does.
		if err := sp.Advance(win.Add(logfile.WindowLength + time.Minute)); err != nil {
			return count, err
		}
	}
	return count, sp.Close()
}

func ptr(v string) *string { return &v }

// groupedPeople draws cfg.Users users, each with a group and an address.
func groupedPeople(cfg GroupedConfig, rng *rand.Rand) []person {
	groups := []*string{ptr("hq/sales"), ptr("hq/it"), ptr("branch/ops"), nil, ptr("")}
	nastyNames := []string{"tab\there", "new\nline", `back\slash`, `\N`, "\xff\xfe not utf-8", "名字", strings.Repeat("long", 40)}
	if cfg.Nasty {
		groups = append(groups, ptr("grp\tx\\y"), ptr(strings.Repeat("g", 200)))
	}
	people := make([]person, cfg.Users)
	for i := range people {
		p := person{grp: groups[rng.IntN(len(groups))],
			ip: netip.AddrFrom4([4]byte{10, byte(i / 250), byte(i % 250), 7})}
		switch {
		case i%17 == 16:
			// an address no config names: no user, no group
			p.grp = nil
		case cfg.Nasty && i < len(nastyNames):
			p.user = ptr(nastyNames[i])
		default:
			p.user = ptr(fmt.Sprintf("user%03d", i))
		}
		if i%23 == 5 {
			p.ip = netip.Addr{} // NULL address
		}
		people[i] = p
	}
	return people
}

// groupedApps makes cfg.Apps apps, the first one unrecognised traffic.
func groupedApps(cfg GroupedConfig) []app {
	types := []*string{ptr("web"), ptr("video"), ptr("im"), ptr("p2p"), nil}
	apps := make([]app, cfg.Apps)
	for i := range apps {
		a := app{name: ptr(fmt.Sprintf("app%02d", i)), typ: types[i%len(types)]}
		if i == 0 {
			a = app{} // unrecognised traffic: NULL app and type
		}
		if cfg.Nasty && i == 1 {
			a.name = ptr("\xc3(bad\\utf8\t")
		}
		apps[i] = a
	}
	return apps
}

// nullStr encodes v, NULL when nil.
func nullStr(e *logfile.Encoder, v *string) {
	if v == nil {
		e.Null()
	} else {
		e.Str(*v)
	}
}

// groupedRow encodes one row of table l at ts in window win for user p
// and app a, drawing the rest from rng.
func groupedRow(e *logfile.Encoder, rng *rand.Rand, l byte, win, ts time.Time, p person, a app) error {
	switch l {
	case 'A':
		e.Addr(p.ip).Uint(uint64(40000 + rng.IntN(20000))).
			Addr(netip.AddrFrom4([4]byte{93, 184, byte(rng.IntN(4)), 34})).Uint(443)
		nullStr(e, p.user)
		nullStr(e, p.grp)
		e.Str("tcp")
		nullStr(e, a.typ)
		nullStr(e, a.name)
		e.Uint(rng.Uint64N(1 << 20)).Uint(rng.Uint64N(1 << 24)).Uint(rng.Uint64N(1000)).Uint(rng.Uint64N(20000))
		e.Time(ts.Add(time.Second)).Str("fin")
	case 'F':
		nullStr(e, p.user)
		nullStr(e, p.grp)
		e.Addr(p.ip)
		nullStr(e, a.typ)
		nullStr(e, a.name)
		e.Uint(rng.Uint64N(1 << 22)).Uint(rng.Uint64N(1 << 26)).Uint(rng.Uint64N(50000)).Uint(rng.Uint64N(40))
	case 'T':
		nullStr(e, p.user)
		nullStr(e, p.grp)
		e.Addr(p.ip)
		e.Time(win).Time(ts)
		e.Uint(rng.Uint64N(6)).Uint(rng.Uint64N(301))
	case 'U':
		e.Addr(p.ip).Uint(uint64(40000 + rng.IntN(20000))).
			Addr(netip.AddrFrom4([4]byte{93, 184, 216, 34})).Uint(80)
		nullStr(e, p.user)
		nullStr(e, p.grp)
		nullStr(e, a.name)
		e.Str("GET").Str("example.com").Str(fmt.Sprintf("/p/%d", rng.IntN(100)))
		e.Uint(200).Str("text/html").Str("curl/8").Null()
		e.Uint(rng.Uint64N(2000)).Uint(rng.Uint64N(1 << 20))
		nullStr(e, a.typ)
		// Most rows are single requests; some stand for
		// repeats the log reduction folded into them.
		n := 1 + max(0, rng.IntN(8)-5)
		e.Uint(uint64(n)).Time(ts.Add(time.Duration(n-1) * time.Second))
	default:
		return fmt.Errorf("generate: no rollups for table %c", l)
	}
	return nil
}
