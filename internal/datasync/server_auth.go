package datasync

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// authenticate checks the gateway's secret and, with mutual TLS, that the
// client certificate names the gateway.
func (s *Server) authenticate(r *http.Request) (string, error) {
	gw := r.Header.Get(HeaderGateway)
	secret, known := s.cfg.Gateways[gw]
	if gw == "" || !known {
		return "", fail(http.StatusUnauthorized, "unknown gateway %q", gw)
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
		return gw, fail(http.StatusUnauthorized, "wrong secret for gateway %s", gw)
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if cn := r.TLS.PeerCertificates[0].Subject.CommonName; cn != gw {
			return gw, fail(http.StatusForbidden, "client certificate is for %q, not gateway %s", cn, gw)
		}
	}
	return gw, nil
}
