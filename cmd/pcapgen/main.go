// Command pcapgen writes a generated capture mixing HTTP, DNS and TLS
// sessions, for benchmarks: `pcapgen -packets 1000000 -o big.pcap`; with
// -mail, SMTP sessions carrying MIME messages with attachments (and some
// DNS): `pcapgen -mail -packets 1000000 -o mail.pcap`; with -short N, N
// short sessions (8-packet HTTP, 2-packet DNS) starting at -rate per second
// of capture time: `pcapgen -short 200000 -rate 200 -o short.pcap`. It
// prints what it wrote as JSON.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/acstore/acstore/internal/pcapgen"
)

func main() {
	packets := flag.Int("packets", 1_000_000, "packets to write")
	seed := flag.Uint64("seed", 1, "random seed: the same seed writes the same capture")
	out := flag.String("o", "", "output file (required)")
	mail := flag.Bool("mail", false, "mail-heavy traffic: SMTP sessions with MIME attachments")
	short := flag.Int("short", 0, "write this many short sessions (half 8-packet HTTP, half 2-packet DNS) instead")
	rate := flag.Float64("rate", 200, "with -short: sessions starting per second of capture time")
	dur := flag.Duration("duration", 50*time.Millisecond, "with -short: how long each session lasts (rate x duration are open at once)")
	start := flag.String("start", "", "time of the first packet, RFC 3339 (default: the generator's fixed start)")
	flag.Parse()
	var at time.Time
	if *start != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, *start); err != nil {
			fmt.Fprintln(os.Stderr, "pcapgen: -start:", err)
			os.Exit(2)
		}
	}
	if err := run(*out, func(f *os.File) (pcapgen.Stats, error) {
		if *short > 0 {
			return pcapgen.WriteShort(f, pcapgen.ShortConfig{Seed: *seed, Sessions: *short, Rate: *rate, Duration: *dur})
		}
		return pcapgen.Write(f, pcapgen.Config{Seed: *seed, Packets: *packets, Mail: *mail, Start: at})
	}); err != nil {
		fmt.Fprintln(os.Stderr, "pcapgen:", err)
		os.Exit(1)
	}
}

func run(path string, write func(*os.File) (pcapgen.Stats, error)) error {
	if path == "" {
		return fmt.Errorf("no -o file")
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	st, err := write(f)
	if err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(st)
}
