package daemon_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/daemon"
	"github.com/prometheus/client_golang/prometheus"
)

func TestConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loader.yaml")
	os.WriteFile(path, []byte("data: /srv/acstore\nkeep-days: 30\nstats-interval: 1m\nkeep: true\n"), 0o644)
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var c daemon.Common
	c.RegisterFlags(fs)
	keepDays := fs.Int("keep-days", 0, "")
	keep := fs.Bool("keep", false, "")
	if err := daemon.Parse(fs, []string{"-config", path, "-keep-days", "7"}, &c); err != nil {
		t.Fatal(err)
	}
	if c.Data != "/srv/acstore" || *keepDays != 7 || !*keep || c.StatsEvery != time.Minute {
		t.Errorf("data %q keep-days %d keep %v stats %v: the file sets what the command line does not", c.Data, *keepDays, *keep, c.StatsEvery)
	}
	os.WriteFile(path, []byte("no-such-flag: 1\n"), 0o644)
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	c = daemon.Common{}
	c.RegisterFlags(fs)
	if err := daemon.Parse(fs, []string{"-config", path}, &c); err == nil || !strings.Contains(err.Error(), `unknown setting "no-such-flag"`) {
		t.Errorf("unknown setting: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	var n atomic.Uint64
	n.Store(7)
	reg := prometheus.NewRegistry()
	reg.MustRegister(daemon.Counter("loader", "files_total", "Files.", &n),
		daemon.Gauge("loader", "backlog_files", "Backlog.", func() float64 { return 3 }))
	got, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"acstore_loader_files_total": 7, "acstore_loader_backlog_files": 3}
	for _, mf := range got {
		m := mf.GetMetric()[0]
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		if want[mf.GetName()] != v {
			t.Errorf("%s = %v, want %v", mf.GetName(), v, want[mf.GetName()])
		}
		delete(want, mf.GetName())
	}
	if len(want) != 0 {
		t.Errorf("missing metrics: %v", want)
	}
}

// TestParseInterspersed: arguments and flags in any order; "--" ends the
// flags.
func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		gw   string
		rest []string
	}{
		{[]string{"-r", "monday.pcap", "tuesday.pcapng", "-data", "/var/lib/acstore", "-gateway", "5F86F7A5"}, "5F86F7A5", []string{"tuesday.pcapng"}},
		{[]string{"a.pcap", "-gateway", "X", "b.pcap"}, "X", []string{"a.pcap", "b.pcap"}},
		{[]string{"-gateway", "X", "--", "-odd.pcap", "-gateway"}, "X", []string{"-odd.pcap", "-gateway"}},
		{nil, "", nil},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var c daemon.Common
		c.RegisterFlags(fs)
		gw := fs.String("gateway", "", "")
		r := fs.String("r", "", "")
		rest, err := daemon.ParseInterspersed(fs, tc.args, &c)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if *gw != tc.gw || strings.Join(rest, " ") != strings.Join(tc.rest, " ") {
			t.Errorf("%v: gateway %q rest %q; want %q %q", tc.args, *gw, rest, tc.gw, tc.rest)
		}
		if tc.gw == "5F86F7A5" && (*r != "monday.pcap" || c.Data != "/var/lib/acstore") {
			t.Errorf("%v: -r %q -data %q", tc.args, *r, c.Data)
		}
	}
}

// TestConfigDuration: a duration without its unit in a config file says
// what it wants.
func TestConfigDuration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aclog.yaml")
	os.WriteFile(path, []byte("stats-interval: 5\n"), 0o644)
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var c daemon.Common
	c.RegisterFlags(fs)
	err := daemon.Parse(fs, []string{"-config", path}, &c)
	if err == nil || !strings.Contains(err.Error(), `stats-interval: "5" is not a duration: write it with its unit, like 5s`) {
		t.Errorf("err = %v", err)
	}
}
