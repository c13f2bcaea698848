package configtab_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acstore/acstore/internal/configtab"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, configtab.UsersFile), []byte(strings.Join([]string{
		"# cidr\tuser\tgroup",
		"10.0.0.0/8\tstaff\tHQ",
		"10.1.2.3\talice\tHQ/IT",
		"2001:db8::/32\tv6\tLab",
	}, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, configtab.AppsFile), []byte("Intranet\tbusiness\thost\t*.corp.example\nWeb\tweb\tport\ttcp/80\n"), 0o644)
	tabs, err := configtab.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ ip, user, group string }{
		{"10.1.2.3", "alice", "HQ/IT"},
		{"10.9.9.9", "staff", "HQ"},
		{"::ffff:10.1.2.3", "alice", "HQ/IT"},
		{"2001:db8::1", "v6", "Lab"},
		{"192.168.1.1", "192.168.1.1", ""},
	} {
		u, g := tabs.Who(netip.MustParseAddr(c.ip))
		if u != c.user || g != c.group {
			t.Errorf("Who(%s) = %q, %q; want %q, %q", c.ip, u, g, c.user, c.group)
		}
	}
	if a, ok := tabs.ByHost("WWW.Corp.Example."); !ok || a.Name != "Intranet" {
		t.Errorf("ByHost suffix: %v %v", a, ok)
	}
	if _, ok := tabs.ByHost("corp.example.org"); ok {
		t.Error("ByHost matched a host that only contains the suffix")
	}
	if a, ok := tabs.ByPort("tcp", 80); !ok || a.Name != "Web" {
		t.Errorf("ByPort: %v %v", a, ok)
	}
	if _, ok := tabs.ByPort("tcp", 443); ok {
		t.Error("apps.tsv present: the built-in list must not apply")
	}
}

func TestDefaultsAndErrors(t *testing.T) {
	tabs, err := configtab.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := tabs.ByPort("udp", 53); !ok || a.Name != "DNS" {
		t.Errorf("built-in DNS: %v %v", a, ok)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, configtab.UsersFile), []byte("not-an-ip\tbob\tG\n"), 0o644)
	if _, err := configtab.Load(dir); err == nil || !strings.Contains(err.Error(), "users.tsv line 1") {
		t.Errorf("bad users.tsv: %v", err)
	}
}
