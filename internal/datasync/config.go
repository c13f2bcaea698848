package datasync

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/logfile"
)

// TLSFiles are the TLS flags both ends share.
type TLSFiles struct {
	Cert, Key, CA string
	Insecure      bool // plaintext HTTP: only when asked for explicitly
}

// RegisterFlags adds -tls-cert, -tls-key, -tls-ca and -insecure.
func (t *TLSFiles) RegisterFlags(fs *flag.FlagSet, side string) {
	fs.StringVar(&t.Cert, "tls-cert", "", "PEM certificate of this "+side)
	fs.StringVar(&t.Key, "tls-key", "", "PEM private key of -tls-cert")
	if side == "server" {
		fs.StringVar(&t.CA, "tls-ca", "", "PEM CA bundle: require client certificates signed by it (mutual TLS); the certificate's common name must be the gateway")
	} else {
		fs.StringVar(&t.CA, "tls-ca", "", "PEM CA bundle that signed the server's certificate (default: the system roots)")
	}
	fs.BoolVar(&t.Insecure, "insecure", false, "plaintext HTTP without TLS (requests stay signed, but the data travels in clear: test links only)")
}

func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-tls-ca %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// serverTLS returns the server's TLS config, or nil with -insecure.
func (t TLSFiles) serverTLS() (*tls.Config, error) {
	if t.Insecure {
		return nil, nil
	}
	if t.Cert == "" || t.Key == "" {
		return nil, errors.New("serve needs -tls-cert and -tls-key (or -insecure for plaintext)")
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	if t.CA != "" {
		if cfg.ClientCAs, err = loadPool(t.CA); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// clientTLS returns the client's TLS config, or nil with -insecure.
func (t TLSFiles) clientTLS() (*tls.Config, error) {
	if t.Insecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pool, err := loadPool(t.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if t.Cert != "" || t.Key != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ReadGateways reads a gateways file: one "GW SECRET" a line, # comments.
func ReadGateways(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-gateways: %w", err)
	}
	defer f.Close()
	gws := make(map[string]string)
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		fields := strings.Fields(s)
		if len(fields) != 2 || !logfile.ValidGateway(fields[0]) {
			return nil, fmt.Errorf("%s:%d: want `GW SECRET` (GW 8 upper-case hex digits)", path, line)
		}
		if len(fields[1]) < 16 {
			return nil, fmt.Errorf("%s:%d: the secret of %s is shorter than 16 characters", path, line, fields[0])
		}
		if _, dup := gws[fields[0]]; dup {
			return nil, fmt.Errorf("%s:%d: gateway %s listed twice", path, line, fields[0])
		}
		gws[fields[0]] = fields[1]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(gws) == 0 {
		return nil, fmt.Errorf("%s: no gateway in it", path)
	}
	return gws, nil
}

// ReadSecret reads a client's secret file (the secret on its first line).
func ReadSecret(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("-secret-file: %w", err)
	}
	s := strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0])
	if s == "" {
		return "", fmt.Errorf("-secret-file %s: empty", path)
	}
	return s, nil
}

// windowName returns the protocol name of a window.
func windowName(t time.Time) string { return t.Format(WindowLayout) }
