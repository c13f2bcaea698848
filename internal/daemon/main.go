package daemon

import (
	"context"
	"fmt"
	"log/slog"
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

// Start is what every program does once its flags are parsed: it makes
// the program's logger (-log-level, -log-json) and a context that SIGINT
// or SIGTERM cancel, so the program flushes what it holds and exits
// cleanly. stop releases the signals.
func (c *Common) Start(program string) (ctx context.Context, log *slog.Logger, stop context.CancelFunc, err error) {
	log, err = c.Logger(program)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, stop = SignalContext()
	return ctx, log, stop, nil
}
