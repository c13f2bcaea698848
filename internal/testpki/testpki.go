// Package testpki makes a throwaway PKI for tests and benchmarks that run
// real TLS on loopback: a CA, a server certificate for 127.0.0.1 and a
// client certificate per name, all as PEM files. Nothing here is fit for
// production keys: they live a day and sit in a temporary directory.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is the paths of the PEM files New wrote.
type PKI struct {
	CA         string            // the CA's certificate
	Cert, Key  string            // the server's, for 127.0.0.1
	ClientCert map[string]string // by client name (its CommonName)
	ClientKey  map[string]string
}

// New writes a CA, a server certificate and key, and one client
// certificate and key per name in clients into dir.
func New(dir string, clients ...string) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &PKI{ClientCert: map[string]string{}, ClientKey: map[string]string{}}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acstore test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	if p.CA, err = writePEM(dir, "ca.pem", "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	if p.Cert, p.Key, err = issue(dir, caCert, caKey, "server", "head office", true); err != nil {
		return nil, err
	}
	for _, c := range clients {
		if p.ClientCert[c], p.ClientKey[c], err = issue(dir, caCert, caKey, "client-"+c, c, false); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// issue writes to dir/name.pem and dir/name.key a certificate for cn
// signed by caCert (a server's for 127.0.0.1, or a client's) and its key.
func issue(dir string, caCert *x509.Certificate, caKey *ecdsa.PrivateKey, name, cn string, server bool) (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", "", fmt.Errorf("certificate %s: %w", cn, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	cert, err := writePEM(dir, name+".pem", "CERTIFICATE", der)
	if err != nil {
		return "", "", err
	}
	k, err := writePEM(dir, name+".key", "EC PRIVATE KEY", kder)
	return cert, k, err
}

func writePEM(dir, name, typ string, der []byte) (string, error) {
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
