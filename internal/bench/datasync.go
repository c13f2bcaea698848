package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/rowgen"
	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/testpki"
)

// Datasync measures datasync on loopback next to a plain TCP copy of the same
// bytes into files, in the same run: push over TLS with LZ4 (the files as
// stored) and with xz (recompressed for the wire), and LZ4 over plaintext.
// rows is the number of rows per log table written into the branch's
// sync_files first (100000 rows give about 30 MB of LZ4 files).
func Datasync(ctx context.Context, rows int) ([]Row, error) {
	const gw = "BE0C4A11"
	tmp, err := os.MkdirTemp("", "acbench-datasync-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	branch := filepath.Join(tmp, "branch")
	if err := benchRows(branch, gw, rows); err != nil {
		return nil, err
	}
	files, stored, raw, err := syncSizes(branch)
	if err != nil {
		return nil, err
	}
	mb := float64(stored) / 1e6
	const group, ref = datasyncGroup, "plain TCP copy into files (reference)"
	b := &datasyncBench{ctx: ctx, tmp: tmp, branch: branch, gw: gw, files: files}
	refRow := Row{Group: group, Name: ref, Amount: mb, Unit: "MB",
		Note: fmt.Sprintf("%d files, LZ4 size ratio %.2f (%.0f MB of rows)", len(files), float64(raw)/float64(stored), float64(raw)/1e6)}
	// datasync fsyncs each file before it publishes it; this row does the
	// same, to show what durability alone costs.
	err = b.pair(Row{Group: group, Name: "plain TCP copy, fsync per file", Amount: mb, Unit: "MB"}, refRow,
		b.copyTrial("plain-fsync", true, 0), b.copyTrial("plain", false, 0))
	if err != nil {
		return nil, err
	}

	if b.certs, err = benchCerts(filepath.Join(tmp, "pki")); err != nil {
		return nil, err
	}
	if err := b.pushes(refRow, mb, raw); err != nil {
		return nil, err
	}
	if err := b.linkPushes(mb); err != nil {
		return nil, err
	}
	return b.out, nil
}

// datasyncGroup is the group of Datasync's rows.
const datasyncGroup = "datasync"

// syncSizes lists the sync_files under branch, with their stored size and
// the size of their rows uncompressed.
func syncSizes(branch string) (files []string, stored, raw int64, err error) {
	err = logfile.WalkSync(branch, func(path string, _ logfile.Name) error {
		files = append(files, path)
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		stored += fi.Size()
		rs, err := logfile.OpenRows(path, logfile.LZ4)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, rs)
		rs.Close()
		raw += n
		return err
	})
	return files, stored, raw, err
}

// datasyncBench is one run of Datasync: the branch's files in tmp, and the
// rows so far.
type datasyncBench struct {
	ctx    context.Context
	tmp    string
	branch string
	gw     string
	files  []string
	certs  datasync.TLSFiles
	out    []Row
}

// pair runs Pair; each push is paired with its reference (Pair: 3
// alternating runs); the reference's row comes from its first pairing.
func (b *datasyncBench) pair(prog, ref Row, progTrial, refTrial Trial) error {
	rows, err := Pair(prog, ref, progTrial, refTrial)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(b.out, func(r Row) bool { return r.Name == ref.Name }) {
		b.out = append(b.out, rows[1])
	}
	b.out = append(b.out, rows[0])
	return nil
}

// copyTrial is one plainCopy of the files into dir.
func (b *datasyncBench) copyTrial(dir string, fsync bool, link int64) Trial {
	return func() (time.Duration, error) {
		os.RemoveAll(filepath.Join(b.tmp, dir))
		took, err := plainCopy(b.files, filepath.Join(b.tmp, dir), fsync, link)
		if err != nil {
			return 0, fmt.Errorf("plain copy: %w", err)
		}
		return took, nil
	}
}

// pushTrial ships the branch's files afresh to an empty head office and
// reports the bytes on the wire in *wire.
func (b *datasyncBench) pushTrial(c pushCase, link int64, wire *int64) Trial {
	return func() (time.Duration, error) {
		ho := filepath.Join(b.tmp, "ho")
		os.RemoveAll(ho)
		os.RemoveAll(filepath.Join(b.branch, "state"))
		w, took, err := benchPush(b.ctx, b.branch, ho, b.gw, c.codec, c.tls, c.parallel, link, b.certs)
		*wire = w
		return took, err
	}
}

// pushes pairs each push over loopback with the plain copy (refRow).
func (b *datasyncBench) pushes(refRow Row, mb float64, raw int64) error {
	const group = datasyncGroup
	for _, c := range []pushCase{
		{"push lz4, TLS", logfile.LZ4, true, 1},
		{"push lz4, TLS, -parallel 4", logfile.LZ4, true, 4},
		{"push lz4, plaintext (-insecure)", logfile.LZ4, false, 1},
		{"push xz, TLS (recompressed)", logfile.XZ, true, 1},
	} {
		var wire int64
		err := b.pair(Row{Group: group, Name: c.name, Amount: mb, Unit: "MB"}, refRow, b.pushTrial(c, 0, &wire), b.copyTrial("plain", false, 0))
		if err != nil {
			return err
		}
		b.out[len(b.out)-1].Note = fmt.Sprintf("%.1f MB on the wire, size ratio %.2f", float64(wire)/1e6, float64(raw)/float64(wire))
	}
	return nil
}

// linkPushes pairs pushes over a thin link (a 100 Mbit/s VPN, shaped in
// both directions by a proxy) with the plain copy over the same link: the
// link is the limit for both, the comparison that matters at a branch.
func (b *datasyncBench) linkPushes(mb float64) error {
	const group = datasyncGroup
	const link = 100e6 / 8
	linkRef := Row{Group: group, Name: "plain TCP copy, 100 Mbit/s link (reference)", Amount: mb, Unit: "MB"}
	for _, c := range []pushCase{
		{"push lz4, TLS, 100 Mbit/s link", logfile.LZ4, true, 1},
		{"push xz, TLS, 100 Mbit/s link", logfile.XZ, true, 1},
	} {
		var wire int64
		err := b.pair(Row{Group: group, Name: c.name, Amount: mb, Unit: "MB"}, linkRef, b.pushTrial(c, link, &wire), b.copyTrial("plain-link", false, link))
		if err != nil {
			return err
		}
		b.out[len(b.out)-1].Note = fmt.Sprintf("%.1f MB on the wire", float64(wire)/1e6)
	}
	return nil
}

// pushCase is one way of pushing: codec on the wire, TLS, uploads at once.
type pushCase struct {
	name     string
	codec    logfile.Codec
	tls      bool
	parallel int
}

// benchRows writes rows of the A and U tables over four windows of
// yesterday, as a branch in high-performance mode does.
func benchRows(root, gw string, rows int) error {
	sp, err := logfile.NewSpool(logfile.SpoolConfig{Root: root, Gateway: gw, HighPerformance: true, MaxFrameBytes: 4 << 20})
	if err != nil {
		return err
	}
	g := rowgen.New(42, false)
	start := logfile.WindowStart(time.Now().AddDate(0, 0, -1))
	for _, letter := range []byte("AU") {
		tb, _ := schema.ByLetter(letter)
		for i := 0; i < rows; i++ {
			ts := start.Add(time.Duration(i) * 4 * logfile.WindowLength / time.Duration(rows))
			if err := g.Row(sp, tb, ts); err != nil {
				return err
			}
		}
	}
	return sp.Close()
}

func benchPush(ctx context.Context, branch, ho, gw string, codec logfile.Codec, useTLS bool, parallel int, link int64, certs datasync.TLSFiles) (int64, time.Duration, error) {
	secret := "bench-secret-0123456789abcdef"
	scfg := datasync.ServerConfig{Root: ho, Gateways: map[string]string{gw: secret}, TLS: datasync.TLSFiles{Insecure: true}}
	ccfg := datasync.ClientConfig{Root: branch, Gateway: gw, Secret: secret, Codec: codec, TLS: datasync.TLSFiles{Insecure: true}, Retries: 3, Parallel: parallel}
	if useTLS {
		scfg.TLS = datasync.TLSFiles{Cert: certs.Cert, Key: certs.Key}
		ccfg.TLS = datasync.TLSFiles{CA: certs.CA}
	}
	srv, err := datasync.NewServer(scfg, nil)
	if err != nil {
		return 0, 0, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	defer func() { cancel(); <-done }()
	addr, stop, err := thinLink(ln.Addr().String(), link)
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	ccfg.Server = "http://" + addr
	if useTLS {
		ccfg.Server = "https://" + addr
	}
	c, err := datasync.NewClient(ccfg)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	start := time.Now()
	if err := c.RunOnce(ctx); err != nil {
		return 0, 0, err
	}
	took := time.Since(start)
	if c.Stats().Files.Load() == 0 {
		return 0, 0, errors.New("nothing was sent")
	}
	if err := checkShipped(branch, ho); err != nil {
		return 0, 0, err
	}
	os.RemoveAll(filepath.Join(branch, "state"))
	return int64(c.Stats().WireBytes.Load()), took, nil
}

// benchCerts writes a CA and a server certificate for 127.0.0.1.
func benchCerts(dir string) (datasync.TLSFiles, error) {
	p, err := testpki.New(dir)
	if err != nil {
		return datasync.TLSFiles{}, err
	}
	return datasync.TLSFiles{CA: p.CA, Cert: p.Cert, Key: p.Key}, nil
}

// checkShipped checks the bench's own output: every sync_file of the
// branch is at head office with the same rows (its bytes may differ: xz
// recompresses), and every attachment bundle is there.
func checkShipped(branch, ho string) error {
	rows := func(root string) (map[string]int, error) {
		out := map[string]int{}
		err := logfile.WalkSync(root, func(path string, n logfile.Name) error {
			if n.Table == schema.Attachments {
				out[n.String()] = -1
				return nil
			}
			st, err := logfile.StatFile(path, logfile.LZ4)
			if err != nil {
				return err
			}
			if st.Err != nil {
				return fmt.Errorf("%s: %w", path, st.Err)
			}
			out[n.String()] = st.Rows
			return nil
		})
		return out, err
	}
	want, err := rows(branch)
	if err != nil {
		return err
	}
	got, err := rows(ho)
	if err != nil {
		return fmt.Errorf("head office: %w", err)
	}
	for name, n := range want {
		if g, ok := got[name]; !ok || g != n {
			return fmt.Errorf("%s: %d rows at the branch, %d at head office (present: %v)", name, n, g, ok)
		}
	}
	return nil
}
