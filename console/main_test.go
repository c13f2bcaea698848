package main

import (
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"-h"}, ""},
		{[]string{"user", "-h"}, ""},
		{[]string{"-listen", "127.0.0.1:0"}, "need -tls-cert and -tls-key (or -insecure for plain HTTP)"},
		{[]string{"user", "rename"}, "user rename: want add, delete or list"},
	} {
		err := run(c.args)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("console %s: %v, want %q", strings.Join(c.args, " "), err, c.err)
		}
	}
	if len(usage) < 500 || !strings.Contains(usage, "Search") || !strings.Contains(usage, "console user add") {
		t.Error("console -h does not explain the pages and the user command")
	}
}
