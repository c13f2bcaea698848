package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteSection: measuring one group again replaces its section and
// keeps the others, in the groups' order.
func TestWriteSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCH.md")
	order := []string{"aclog", "loader", "codec"}
	row := func(group, name string, secs int) []Row {
		return []Row{{Group: group, Name: name, Amount: 100, Unit: "rows", Took: time.Duration(secs) * time.Second}}
	}
	for _, s := range []Section{
		{Group: "loader", Rows: row("loader", "first loader", 1), Command: "acbench -only loader"},
		{Group: "aclog", Rows: row("aclog", "old aclog", 2), Command: "acbench"},
		{Group: "aclog", Rows: row("aclog", "new aclog", 4), Command: "acbench -only aclog"},
	} {
		if err := WriteSection(path, s, order); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if strings.Contains(doc, "old aclog") || strings.Count(doc, "## aclog") != 1 {
		t.Errorf("the aclog section was not replaced:\n%s", doc)
	}
	a, l := strings.Index(doc, "new aclog"), strings.Index(doc, "first loader")
	if a < 0 || l < 0 || a > l {
		t.Errorf("want the new aclog section, then the loader's:\n%s", doc)
	}
	if !strings.Contains(doc, "by `acbench -only aclog`") || !strings.Contains(doc, "by `acbench -only loader`") {
		t.Errorf("each section names its command:\n%s", doc)
	}
	if !strings.HasPrefix(doc, header) || strings.Count(doc, header) != 1 {
		t.Errorf("one header at the top:\n%s", doc)
	}
}
