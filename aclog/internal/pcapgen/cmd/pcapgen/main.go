// Command pcapgen writes a generated capture mixing HTTP, DNS and TLS
// sessions, for benchmarks: `pcapgen -packets 1000000 -o big.pcap`; with
// -mail, SMTP sessions carrying MIME messages with attachments (and some
// DNS): `pcapgen -mail -packets 1000000 -o mail.pcap`. It prints what it
// wrote as JSON.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/acstore/acstore/aclog/internal/pcapgen"
)

func main() {
	packets := flag.Int("packets", 1_000_000, "packets to write")
	seed := flag.Uint64("seed", 1, "random seed: the same seed writes the same capture")
	out := flag.String("o", "", "output file (required)")
	mail := flag.Bool("mail", false, "mail-heavy traffic: SMTP sessions with MIME attachments")
	flag.Parse()
	if err := run(*out, *packets, *seed, *mail); err != nil {
		fmt.Fprintln(os.Stderr, "pcapgen:", err)
		os.Exit(1)
	}
}

func run(path string, packets int, seed uint64, mail bool) error {
	if path == "" {
		return fmt.Errorf("no -o file")
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	st, err := pcapgen.Write(f, pcapgen.Config{Seed: seed, Packets: packets, Mail: mail})
	if err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(st)
}
