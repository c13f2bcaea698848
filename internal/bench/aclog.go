package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Aclog times the aclog program on a generated capture of n packets
// (mixing HTTP, DNS and TLS sessions), on one core, writing its sync_files
// and load_files, next to tshark extracting the same fields from the same
// file. bin holds the built programs, pcapgen among them.
func Aclog(bin string, n int) ([]Row, error) {
	dir, err := os.MkdirTemp("", "acbench-aclog-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	capture := filepath.Join(dir, "mixed.pcap")
	out, err := exec.Command(filepath.Join(bin, "pcapgen"), "-packets", fmt.Sprint(n), "-o", capture).Output()
	if err != nil {
		return nil, fmt.Errorf("pcapgen: %w", err)
	}
	var st struct {
		Packets      int
		Bytes        int64
		HTTPRequests int
		DNSQueries   int
		TLSSessions  int
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("pcapgen output: %w", err)
	}
	note := fmt.Sprintf("%d HTTP requests, %d DNS queries, %d TLS handshakes", st.HTTPRequests, st.DNSQueries, st.TLSSessions)

	cmd := exec.Command(filepath.Join(bin, "aclog"), "-r", capture, "-data", filepath.Join(dir, "data"),
		"-gateway", "BE0C4A11", "-log-level", "warn", "-stats-interval", "0")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	took, err := timed(cmd)
	if err != nil {
		return nil, fmt.Errorf("aclog: %w", err)
	}
	tshark := exec.Command("tshark", "-r", capture, "-T", "fields", "-e", "frame.len", "-e", "ip.src", "-e", "ip.dst",
		"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "http.request.method", "-e", "http.host", "-e", "http.request.uri",
		"-e", "dns.qry.name", "-e", "tls.handshake.extensions_server_name")
	tshark.Stderr = io.Discard // "Running as user root..."
	ref, err := timed(tshark)
	if err != nil {
		return nil, fmt.Errorf("tshark: %w", err)
	}
	mbit := float64(st.Bytes) * 8 / 1e6
	mail, err := aclogMail(bin, dir, n/3)
	if err != nil {
		return nil, err
	}
	return append([]Row{
		{Group: "aclog", Name: "tshark -T fields, same fields (reference)", Amount: float64(st.Packets), Unit: "pkts", Took: ref},
		{Group: "aclog", Name: "aclog -r, 1 core, rows to sync+load files", Amount: float64(st.Packets), Unit: "pkts", Took: took,
			Reference: "tshark -T fields, same fields (reference)", Note: note},
		{Group: "aclog", Name: "aclog -r, 1 core, line rate", Amount: mbit, Unit: "Mbit", Took: took,
			Note: fmt.Sprintf("%.0f MB of frames", float64(st.Bytes)/1e6)},
	}, mail...), nil
}

// aclogMail times aclog on mail-heavy traffic: SMTP sessions whose
// messages carry a quoted-printable text part and a base64 attachment.
func aclogMail(bin, dir string, n int) ([]Row, error) {
	capture := filepath.Join(dir, "mail.pcap")
	out, err := exec.Command(filepath.Join(bin, "pcapgen"), "-mail", "-packets", fmt.Sprint(n), "-o", capture).Output()
	if err != nil {
		return nil, fmt.Errorf("pcapgen -mail: %w", err)
	}
	var st struct {
		Packets     int
		Bytes       int64
		Mails       int
		Attachments int
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("pcapgen output: %w", err)
	}
	cmd := exec.Command(filepath.Join(bin, "aclog"), "-r", capture, "-data", filepath.Join(dir, "mail-data"),
		"-gateway", "BE0C4A11", "-log-level", "warn", "-stats-interval", "0")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	took, err := timed(cmd)
	if err != nil {
		return nil, fmt.Errorf("aclog on mail: %w", err)
	}
	return []Row{
		{Group: "aclog", Name: "aclog -r mail-heavy, 1 core, messages", Amount: float64(st.Mails), Unit: "msgs", Took: took,
			Note: fmt.Sprintf("%d attachments decoded into the X bundle", st.Attachments)},
		{Group: "aclog", Name: "aclog -r mail-heavy, 1 core, line rate", Amount: float64(st.Bytes) * 8 / 1e6, Unit: "Mbit", Took: took,
			Note: fmt.Sprintf("%d packets, %.0f MB of frames", st.Packets, float64(st.Bytes)/1e6)},
	}, nil
}

func timed(cmd *exec.Cmd) (time.Duration, error) {
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	start := time.Now()
	err := cmd.Run()
	return time.Since(start), err
}
