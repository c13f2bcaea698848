package datasync

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// PermanentError is a failure that trying again cannot mend: the server's
// certificate is not trusted or does not name it, the server refused the
// branch's certificate or credentials, or its name does not resolve. Push
// gives up on it at once, with the reason, instead of backing off for
// minutes; the daemon tries again at its next pass, since the operator may
// fix the cause in the meantime.
type PermanentError struct {
	Reason string // what to fix, for people
	Err    error
}

func (e *PermanentError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// permanent classifies err: a *PermanentError if no retry can mend it,
// else nil.
func permanent(err error) *PermanentError {
	var pe *PermanentError
	if errors.As(err, &pe) {
		return pe
	}
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
		remote   *net.OpError
		dns      *net.DNSError
		se       *StatusError
	)
	switch {
	case errors.As(err, &unknown):
		return &PermanentError{"the server's certificate is not signed by a CA this branch trusts (give its CA with -tls-ca)", err}
	case errors.As(err, &hostname):
		return &PermanentError{"the server's certificate does not name the host in -server (it needs a subjectAltName for it)", err}
	case errors.As(err, &invalid):
		return &PermanentError{"the server's certificate is not valid (expired, or not for TLS servers)", err}
	case errors.As(err, &verify):
		return &PermanentError{"the server's certificate could not be verified", err}
	case errors.As(err, &alert):
		return &PermanentError{"the server refused the TLS handshake (this branch's client certificate is missing or not trusted there)", err}
	case errors.As(err, &remote) && remote.Op == "remote error":
		return &PermanentError{"the server refused the TLS handshake", err}
	case errors.As(err, &dns) && dns.IsNotFound:
		return &PermanentError{"the server's name does not resolve", err}
	case errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden):
		return &PermanentError{fmt.Sprintf("the server refused this branch (%d: check -gateway and the secret)", se.Status), err}
	}
	return nil
}
