package datasync

import (
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// errAuth is the one answer to a request whose gateway is unknown or whose
// signature is wrong: they must not be told apart (gateway ids would be
// enumerable).
func errAuth() *StatusError { return fail(http.StatusUnauthorized, "authentication failed") }

// authenticate checks the request's signature (see Sign) and, with mutual
// TLS, that the client certificate names the gateway. An unknown gateway
// is checked against a random key, so it costs the same time as a wrong
// secret and gets the same answer. A signature is good for AuthSkew around
// the server's clock, and once: its nonce is remembered that long.
func (s *Server) authenticate(r *http.Request) (string, error) {
	gw := r.Header.Get(HeaderGateway)
	secret, known := (*s.gateways.Load())[gw]
	key := s.nobody
	if known && gw != "" {
		key = []byte(secret)
	}
	ok := hmac.Equal(signature(key, r), sigOf(r.Header.Get("Authorization")))
	if !ok || !known || gw == "" {
		s.stats.AuthFailed.Add(1)
		return "", errAuth()
	}
	ts, err := strconv.ParseInt(r.Header.Get(HeaderTime), 10, 64)
	if d := time.Since(time.Unix(ts, 0)); err != nil || d > s.cfg.AuthSkew || d < -s.cfg.AuthSkew {
		s.stats.AuthFailed.Add(1)
		return gw, fail(http.StatusUnauthorized, "request time %q is more than %v away from the server's clock (%s): check the branch's clock", r.Header.Get(HeaderTime), s.cfg.AuthSkew, time.Now().UTC().Format(time.RFC3339))
	}
	if !s.nonces.fresh(gw, r.Header.Get(HeaderNonce), 2*s.cfg.AuthSkew) {
		s.stats.AuthFailed.Add(1)
		return gw, fail(http.StatusUnauthorized, "replayed request (nonce already seen)")
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if cn := r.TLS.PeerCertificates[0].Subject.CommonName; cn != gw {
			return gw, fail(http.StatusForbidden, "client certificate is for %q, not gateway %s", cn, gw)
		}
	}
	return gw, nil
}

func randomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// nonces remembers, per gateway, the nonces of signed requests for as
// long as their signature is good. Only a request with a good signature
// gets in, so the size is bounded by what the gateways send; maxNonces
// bounds each gateway's share anyway, so that one flooding gateway is
// refused alone.
type nonces struct {
	mu   sync.Mutex
	seen map[string]map[string]time.Time // gateway -> nonce -> when to forget it
	adds int
}

const maxNonces = 1 << 14

func newNonces() *nonces { return &nonces{seen: make(map[string]map[string]time.Time)} }

// fresh reports whether gw's nonce n was not seen, and remembers it for
// ttl.
func (ns *nonces) fresh(gw, n string, ttl time.Duration) bool {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	now := time.Now()
	seen := ns.seen[gw]
	if seen == nil {
		seen = make(map[string]time.Time)
		ns.seen[gw] = seen
	}
	if until, ok := seen[n]; ok && now.Before(until) {
		return false
	}
	if ns.adds++; ns.adds%1024 == 0 || len(seen) >= maxNonces {
		for g, m := range ns.seen {
			if g != gw && ns.adds%1024 != 0 {
				continue
			}
			for k, until := range m {
				if now.After(until) {
					delete(m, k)
				}
			}
		}
	}
	if len(seen) >= maxNonces {
		return false // flooded with good signatures: refuse rather than forget
	}
	seen[n] = now.Add(ttl)
	return true
}

// logLimit lets through at most burst refusal log lines per period and
// counts the rest, so that a flood of bad requests cannot flood the log.
type logLimit struct {
	mu      sync.Mutex
	burst   int
	period  time.Duration
	start   time.Time
	n       int
	dropped int
}

// allow reports whether to log now, and how many lines were dropped
// since the last one logged.
func (l *logLimit) allow() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.start) >= l.period {
		l.start, l.n = now, 0
	}
	if l.n >= l.burst {
		l.dropped++
		return false, 0
	}
	l.n++
	d := l.dropped
	l.dropped = 0
	return true, d
}

func (l *logLimit) String() string { return fmt.Sprintf("%d lines per %v", l.burst, l.period) }
