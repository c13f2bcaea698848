// Command datasync is not built yet; see the issues. It exists so that the five
// programs of acstore build and their command lines are reserved.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	fs := flag.NewFlagSet("datasync", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "datasync: not implemented yet in this version of acstore (see DESIGN.md).")
	}
	fs.Parse(os.Args[1:])
	fs.Usage()
	os.Exit(2)
}
