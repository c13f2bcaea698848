package bench

import (
	"context"
	"encoding/binary"
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
	var files []string
	var stored, raw int64
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
	if err != nil {
		return nil, err
	}
	mb := float64(stored) / 1e6
	const group, ref = "datasync", "plain TCP copy into files (reference)"

	// Each push is paired with its reference (Pair: 3 alternating runs);
	// the reference's row comes from its first pairing.
	var out []Row
	pair := func(prog, ref Row, progTrial, refTrial Trial) error {
		rows, err := Pair(prog, ref, progTrial, refTrial)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(out, func(r Row) bool { return r.Name == ref.Name }) {
			out = append(out, rows[1])
		}
		out = append(out, rows[0])
		return nil
	}
	copyTrial := func(dir string, fsync bool, link int64) Trial {
		return func() (time.Duration, error) {
			os.RemoveAll(filepath.Join(tmp, dir))
			took, err := plainCopy(files, filepath.Join(tmp, dir), fsync, link)
			if err != nil {
				return 0, fmt.Errorf("plain copy: %w", err)
			}
			return took, nil
		}
	}
	refRow := Row{Group: group, Name: ref, Amount: mb, Unit: "MB",
		Note: fmt.Sprintf("%d files, LZ4 size ratio %.2f (%.0f MB of rows)", len(files), float64(raw)/float64(stored), float64(raw)/1e6)}
	// datasync fsyncs each file before it publishes it; this row does the
	// same, to show what durability alone costs.
	err = pair(Row{Group: group, Name: "plain TCP copy, fsync per file", Amount: mb, Unit: "MB"}, refRow,
		copyTrial("plain-fsync", true, 0), copyTrial("plain", false, 0))
	if err != nil {
		return nil, err
	}

	certs, err := benchCerts(filepath.Join(tmp, "pki"))
	if err != nil {
		return nil, err
	}
	// pushTrial ships the branch's files afresh to an empty head office and
	// reports the bytes on the wire in *wire.
	pushTrial := func(c pushCase, link int64, wire *int64) Trial {
		return func() (time.Duration, error) {
			ho := filepath.Join(tmp, "ho")
			os.RemoveAll(ho)
			os.RemoveAll(filepath.Join(branch, "state"))
			w, took, err := benchPush(ctx, branch, ho, gw, c.codec, c.tls, c.parallel, link, certs)
			*wire = w
			return took, err
		}
	}
	for _, c := range []pushCase{
		{"push lz4, TLS", logfile.LZ4, true, 1},
		{"push lz4, TLS, -parallel 4", logfile.LZ4, true, 4},
		{"push lz4, plaintext (-insecure)", logfile.LZ4, false, 1},
		{"push xz, TLS (recompressed)", logfile.XZ, true, 1},
	} {
		var wire int64
		err := pair(Row{Group: group, Name: c.name, Amount: mb, Unit: "MB"}, refRow, pushTrial(c, 0, &wire), copyTrial("plain", false, 0))
		if err != nil {
			return nil, err
		}
		out[len(out)-1].Note = fmt.Sprintf("%.1f MB on the wire, size ratio %.2f", float64(wire)/1e6, float64(raw)/float64(wire))
	}

	// Over a thin link (a 100 Mbit/s VPN, shaped in both directions by a
	// proxy), the link is the limit for both: the comparison that matters
	// at a branch.
	const link = 100e6 / 8
	linkRef := Row{Group: group, Name: "plain TCP copy, 100 Mbit/s link (reference)", Amount: mb, Unit: "MB"}
	for _, c := range []pushCase{
		{"push lz4, TLS, 100 Mbit/s link", logfile.LZ4, true, 1},
		{"push xz, TLS, 100 Mbit/s link", logfile.XZ, true, 1},
	} {
		var wire int64
		err := pair(Row{Group: group, Name: c.name, Amount: mb, Unit: "MB"}, linkRef, pushTrial(c, link, &wire), copyTrial("plain-link", false, link))
		if err != nil {
			return nil, err
		}
		out[len(out)-1].Note = fmt.Sprintf("%.1f MB on the wire", float64(wire)/1e6)
	}
	return out, nil
}

// pushCase is one way of pushing: codec on the wire, TLS, uploads at once.
type pushCase struct {
	name     string
	codec    logfile.Codec
	tls      bool
	parallel int
}

// thinLink returns an address that forwards to target at most rate bytes
// per second each way, like a thin VPN link; rate 0 returns target itself.
func thinLink(target string, rate int64) (string, func(), error) {
	if rate <= 0 {
		return target, func() {}, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				d, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer d.Close()
				done := make(chan struct{})
				go func() { shapedCopy(d, c, datasync.NewLimiter(rate)); close(done) }()
				shapedCopy(c, d, datasync.NewLimiter(rate))
				<-done
			}()
		}
	}()
	return ln.Addr().String(), func() { ln.Close() }, nil
}

// shapedCopy copies src to dst, waiting on l before each write.
func shapedCopy(dst, src net.Conn, l *datasync.Limiter) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			l.Wait(context.Background(), n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
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

// plainCopy sends the files over one TCP connection, each as its length
// and bytes, and the receiver writes each into a file; it returns the time
// until the receiver has closed the last one.
func plainCopy(files []string, dst string, fsync bool, link int64) (time.Duration, error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return 0, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		for i := 0; ; i++ {
			var n [8]byte
			if _, err := io.ReadFull(c, n[:]); err != nil {
				if errors.Is(err, io.EOF) {
					done <- nil
				} else {
					done <- err
				}
				return
			}
			f, err := os.Create(filepath.Join(dst, fmt.Sprint(i)))
			if err != nil {
				done <- err
				return
			}
			_, err = io.CopyN(f, c, int64(binary.LittleEndian.Uint64(n[:])))
			if err == nil && fsync {
				err = f.Sync()
			}
			f.Close()
			if err != nil {
				done <- err
				return
			}
		}
	}()
	start := time.Now()
	addr, stop, err := thinLink(ln.Addr().String(), link)
	if err != nil {
		return 0, err
	}
	defer stop()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			c.Close()
			return 0, err
		}
		fi, _ := f.Stat()
		c.Write(binary.LittleEndian.AppendUint64(nil, uint64(fi.Size())))
		_, err = io.Copy(c, f)
		f.Close()
		if err != nil {
			c.Close()
			return 0, err
		}
	}
	c.Close()
	err = <-done
	return time.Since(start), err
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
