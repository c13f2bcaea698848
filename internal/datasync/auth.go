package datasync

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// authScheme names the signature in the Authorization header.
const authScheme = "ACS1"

// Sign adds the authentication of the protocol to req: the gateway, the
// time, a fresh nonce and an HMAC-SHA256, keyed by the gateway's secret,
// over what the request does (see wire.go). The secret itself never
// crosses the wire, and a captured request cannot be replayed.
func Sign(req *http.Request, gw, secret string) { SignAt(req, gw, secret, time.Now()) }

// SignAt is Sign with the time to sign with (for tests of stale requests).
func SignAt(req *http.Request, gw, secret string, at time.Time) {
	var n [16]byte
	rand.Read(n[:])
	req.Header.Set(HeaderGateway, gw)
	req.Header.Set(HeaderTime, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(HeaderNonce, hex.EncodeToString(n[:]))
	sig := signature([]byte(secret), req)
	req.Header.Set("Authorization", authScheme+" "+hex.EncodeToString(sig))
}

// signature is the HMAC of a request's canonical form.
func signature(key []byte, req *http.Request) []byte {
	m := hmac.New(sha256.New, key)
	path := req.URL.EscapedPath()
	if req.URL.Opaque != "" {
		// A client that sends its path verbatim (tests) signs it verbatim.
		path = req.URL.Opaque
		if i := strings.Index(path, "//"); i == 0 {
			if j := strings.IndexByte(path[2:], '/'); j >= 0 {
				path = path[2+j:]
			}
		}
	}
	for _, s := range []string{authScheme, req.Header.Get(HeaderGateway), req.Method, path, req.URL.RawQuery,
		req.Header.Get(HeaderTime), req.Header.Get(HeaderNonce),
		req.Header.Get(HeaderOffset), req.Header.Get(HeaderSize), req.Header.Get(HeaderSha256)} {
		m.Write([]byte(s))
		m.Write([]byte{'\n'})
	}
	return m.Sum(nil)
}

// sigOf reads the signature of the Authorization header; a missing or
// malformed one is all zeros, which no HMAC equals, so that it takes the
// same path as a wrong one.
func sigOf(h string) []byte {
	sig := make([]byte, sha256.Size)
	if v, ok := strings.CutPrefix(h, authScheme+" "); ok && len(v) == 2*sha256.Size {
		hex.Decode(sig, []byte(v))
	}
	return sig
}
