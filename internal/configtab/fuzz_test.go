package configtab_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/acstore/acstore/internal/configtab"
	"github.com/acstore/acstore/internal/logfile"
)

// FuzzUsers loads arbitrary bytes as users.tsv (what head office receives
// from a branch): when they load, writing the table back in the file
// format and loading that gives the same table, and Who answers every
// listed address with the longest prefix that holds it.
func FuzzUsers(f *testing.F) {
	f.Add([]byte("10.0.0.0/8\talice\tstaff\n10.1.2.3\tbob\tstaff/ops\n# note\n\n"))
	f.Add([]byte("::1/128\troot\t\\N\n2001:db8::/32\tv6\tnet\\tx\n"))
	f.Add([]byte("10.0.0.0/33\tx\ty\n"))
	f.Add([]byte("192.168.1.0/24\ta\\\\b\tg\\nh\n192.168.0.0/16\tc\td\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, configtab.UsersFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		tab, err := configtab.Load(dir)
		if err != nil {
			return
		}
		// Written back and loaded again: the same table.
		var out bytes.Buffer
		var e logfile.Encoder
		for _, u := range tab.Users {
			e.Reset()
			e.Str(u.Prefix.String()).Str(u.Name).Str(u.Group)
			out.Write(e.Bytes())
			out.WriteByte('\n')
		}
		dir2 := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir2, configtab.UsersFile), out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := configtab.Load(dir2)
		if err != nil {
			t.Fatalf("the table written back does not load: %v\n%q", err, out.Bytes())
		}
		if !slices.Equal(tab.Users, again.Users) {
			t.Fatalf("loaded %v, written back and loaded %v", tab.Users, again.Users)
		}
		for _, u := range tab.Users {
			a := u.Prefix.Addr()
			name, group := tab.Who(a)
			best := -1
			for _, v := range tab.Users {
				if v.Prefix.Contains(a.Unmap()) && v.Prefix.Bits() > best {
					best = v.Prefix.Bits()
				}
			}
			i := slices.IndexFunc(tab.Users, func(v configtab.User) bool { return v.Name == name && v.Group == group && v.Prefix.Contains(a.Unmap()) })
			if best >= 0 && (i < 0 || tab.Users[i].Prefix.Bits() != best) {
				t.Fatalf("Who(%v) = %q %q, not the user of its longest prefix (/%d)", a, name, group, best)
			}
		}
	})
}
