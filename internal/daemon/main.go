package daemon

import (
	"fmt"
	"os"
)

// Main is every program's main: it runs run with the command line's
// arguments and, when run fails, prints "prog: err" on stderr and exits 1.
func Main(prog string, run func(args []string) error) {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, prog+":", err)
		os.Exit(1)
	}
}
