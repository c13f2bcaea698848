package datasync_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acstore/acstore/internal/datasync"
	"github.com/acstore/acstore/internal/logfile"
)

// TestManyUploads: 300 branches push at once to a server with
// -max-uploads 16; the ones turned away with 503 come back after
// Retry-After, and every file of every branch arrives.
func TestManyUploads(t *testing.T) {
	gws := map[string]string{}
	for i := range 300 {
		gws[fmt.Sprintf("%08X", 0x10000000+i)] = fmt.Sprintf("secret-%d-0123456789", i)
	}
	hoRoot := t.TempDir()
	srv := startServer(t, hoRoot, nil, nil, func(c *datasync.ServerConfig) {
		c.Gateways, c.MaxUploads, c.MaxGatewayUploads = gws, 16, 4
	})
	var wg sync.WaitGroup
	errs := make(chan error, len(gws))
	var busy atomic.Uint64
	for gw, secret := range gws {
		root := t.TempDir()
		name := logfile.Name{Window: t0, Gateway: gw, Table: 'A'}
		os.MkdirAll(filepath.Dir(name.Path(root)), 0o755)
		if err := os.WriteFile(name.Path(root), lz4Rows("1\t2026-11-21 13:00:00.000000\t"+gw+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := clientConfig(t, root, gwA, srv.URL, nil)
		cfg.Gateway, cfg.Secret, cfg.Logger = gw, secret, nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := datasync.NewClient(cfg)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.RunOnce(context.Background()); err != nil {
				errs <- fmt.Errorf("%s: %w", gw, err)
			}
			busy.Add(c.Stats().Busy.Load())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var files int
	logfile.WalkSync(hoRoot, func(string, logfile.Name) error { files++; return nil })
	t.Logf("%d files arrived; the clients waited through %d busy answers (server counted %d)", files, busy.Load(), srv.Stats().Busy.Load())
	if files != 300 {
		t.Errorf("%d files at head office, want 300", files)
	}
	if busy.Load() == 0 || busy.Load() != srv.Stats().Busy.Load() {
		t.Errorf("busy answers: clients %d, server %d; want the same, more than 0", busy.Load(), srv.Stats().Busy.Load())
	}
}

// TestHTTP2Streams: 300 uploads as HTTP/2 streams, each stalled inside its
// first frame, hold at most -max-gateway-uploads slots;
// the rest are answered 503 at once, and another gateway ships meanwhile.
func TestHTTP2Streams(t *testing.T) {
	p := newPKI(t, gwA, gwB)
	hoRoot := t.TempDir()
	srv := startServer(t, hoRoot, nil, p, func(c *datasync.ServerConfig) {
		c.MaxUploads, c.MaxGatewayUploads, c.IdleTimeout = 16, 4, 30*time.Second
	})
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(p.ca)
	pool.AppendCertsFromPEM(caPEM)
	// The server allows -max-gateway-uploads+2 streams per connection
	// (SETTINGS_MAX_CONCURRENT_STREAMS): Go's client opens more
	// connections for the rest, and the slots cap them all.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var mu sync.Mutex
	statuses := map[int]int{}
	var protos []string
	var pipes []*io.PipeWriter
	var wg sync.WaitGroup
	for i := range 300 {
		name := t0.Add(-time.Duration(i)*5*time.Minute).Format(datasync.WindowLayout) + "_" + gwA + "_A.dat"
		pr, pw := io.Pipe()
		pipes = append(pipes, pw)
		req, _ := http.NewRequest("PUT", srv.URL+"/v1/files/"+name, pr)
		for k, v := range upload(name, 1<<20, shaHex([]byte("x")), 0) {
			req.Header.Set(k, v)
		}
		req.ContentLength = 1<<20 + 8
		datasync.Sign(req, gwA, secretA)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The frame claims 1 MiB; 1000 bytes come, then nothing.
			go pw.Write(frame(make([]byte, 1<<20), false)[:1008])
			resp, err := client.Do(req)
			if err != nil {
				return // the pipe closed at the end of the test
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			protos = append(protos, resp.Proto)
			mu.Unlock()
		}()
	}
	defer func() {
		for _, pw := range pipes {
			pw.CloseWithError(io.ErrClosedPipe)
		}
		wg.Wait()
	}()
	// While the streams are stalled (the idle timeout is 30 s away), the
	// server holds 4 uploads and answers the others 503 as they come.
	// It watches for 8 s, and longer (up to 25 s, inside the idle
	// timeout) until both have been seen: on a loaded machine the streams
	// can take that long to arrive.
	maxActive := int64(0)
	seen := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return maxActive >= 4 && statuses[503] > 0
	}
	start := time.Now()
	for ; time.Since(start) < 8*time.Second || (!seen() && time.Since(start) < 25*time.Second); time.Sleep(20 * time.Millisecond) {
		maxActive = max(maxActive, srv.Stats().Active.Load())
	}
	mu.Lock()
	t.Logf("300 stalled HTTP/2 streams: after %v, answers %v (protocol %q), at most %d uploads active", time.Since(start).Round(time.Second), statuses, protos[:min(1, len(protos))], maxActive)
	// How many 503s come in that time is the client's pace (Go's transport
	// frees a refused stream's slot slowly); that all are 503 is the
	// server's.
	if statuses[503] == 0 || len(statuses) != 1 || protos[0] != "HTTP/2.0" {
		t.Errorf("answers %v, want only 503s over HTTP/2.0", statuses)
	}
	mu.Unlock()
	if maxActive != 4 {
		t.Errorf("at most %d uploads active, want 4 (-max-gateway-uploads)", maxActive)
	}
	// Another gateway is not held up meanwhile.
	root := t.TempDir()
	writeWindow(t, root, gwB, t0, 1, 20)
	cfg := clientConfig(t, root, gwB, srv.URL, p)
	cfg.HTTP2 = true
	if c := push(t, cfg); c.Stats().Files.Load() != 11 {
		t.Errorf("gateway B sent %d files, want 11", c.Stats().Files.Load())
	}
}
