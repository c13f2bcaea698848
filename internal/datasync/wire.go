// Package datasync ships a branch appliance's sync_files to head office
// and receives them there.
//
// The client (push) walks <data>/sync/<GW>/ window by window, oldest first:
// for each 5-minute window whose files are all published it sends the
// config tables (when their md5 changed), the log tables in the order
// A-U-P-M-C-O-I-S-F-Q-T, then the window's X bundle, and then commits the
// window. The server (serve) stores what it verified under the same layout
// in its own data root, unpacks X bundles and, after each committed window,
// runs loader in keep mode into the head-office database.
//
// # Wire protocol (HTTP/1.1 or HTTP/2, over TLS unless -insecure)
//
// Every request is signed: it carries X-Acstore-Gateway: <GW>,
// X-Acstore-Time: <unix seconds>, X-Acstore-Nonce: <32 random hex digits>
// and Authorization: ACS1 <hex HMAC-SHA256>, keyed by the gateway's
// secret, over these lines, each ended by a newline:
//
//	ACS1, GW, method, escaped path, raw query, time, nonce,
//	X-Acstore-Offset, X-Acstore-Size, X-Acstore-Sha256 (empty when absent)
//
// The secret never crosses the wire. The server accepts a signature within
// -auth-skew of its clock, and each nonce once within twice that, so a
// captured request (with -insecure, or a log) cannot be replayed to roll a
// published file back. The body is bound too: an upload's bytes must hash
// to the signed X-Acstore-Sha256, and a commit sends the sha256 of its JSON
// body there. An unknown gateway and a wrong signature get the same 401
// "authentication failed", computed in the same time. With mutual TLS the
// client certificate's common name must also be the gateway. A gateway can
// only name its own files.
//
//	GET  /v1/progress                      last window committed, config md5s
//	GET  /v1/files/<name>?size=N&sha256=H  {"complete":bool,"offset":N}
//	PUT  /v1/files/<name>                  upload from X-Acstore-Offset
//	POST /v1/windows/<YYYYMMDD_HHMM>       commit a window: {"files":[...]}
//
// <name> is a sync_file name (YYYYMMDD_HHMM_<GW>_<T>.dat) or a config table
// (users.tsv, groups.tsv, apps.tsv). An upload declares the whole file's
// X-Acstore-Size and X-Acstore-Sha256 and sends the bytes from the offset
// the server reported, as frames of [length u32][crc32c u32][data], little
// endian. The server appends each frame after checking its crc32c; a bad
// frame ends the request with 422 and the offset of the good prefix, so the
// client re-sends from there. A cut connection keeps the frames received.
// When the offset reaches the size, the server checks the sha256 of the
// whole file and publishes it with an atomic rename. Errors are JSON
// {"error": "...", "offset": N, "quarantine": bool} with a status that
// says what to do: 4xx (but 408, 409, 416, 422, 429) will not succeed by
// retrying; 422 with "quarantine": true means the content itself is
// refused (a bad bundle, a window outside the accepted range) and the
// client sets the file aside; 503 with Retry-After means the server caps
// its uploads (-max-uploads, -max-gateway-uploads): come back then.
package datasync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

// HTTP header names of the protocol.
const (
	HeaderGateway = "X-Acstore-Gateway"
	HeaderOffset  = "X-Acstore-Offset"
	HeaderSize    = "X-Acstore-Size"
	HeaderSha256  = "X-Acstore-Sha256"
	HeaderTime    = "X-Acstore-Time"  // unix seconds, signed
	HeaderNonce   = "X-Acstore-Nonce" // 32 hex digits, signed, used once
)

// FrameSize is the most data bytes a client puts in one frame; MaxFrame is
// what the server accepts.
const (
	FrameSize   = 256 << 10
	MaxFrame    = 4 << 20
	frameHeader = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ConfigNames are the config tables a branch ships, as file names.
var ConfigNames = []string{"users.tsv", "groups.tsv", "apps.tsv"}

// FileStatus answers GET /v1/files/<name>.
type FileStatus struct {
	Name     string `json:"name"`
	Complete bool   `json:"complete"` // the server has this exact file published
	Offset   int64  `json:"offset"`   // bytes received of it so far
}

// Progress answers GET /v1/progress: what the server has of a gateway.
type Progress struct {
	Gateway    string            `json:"gateway"`
	LastWindow string            `json:"last_window"` // YYYYMMDD_HHMM, "" for none
	ConfigMD5  map[string]string `json:"config_md5"`  // users.tsv -> md5 hex
}

// WindowFile is one file of a committed window.
type WindowFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Sha256 string `json:"sha256"`
}

// Commit is the body of POST /v1/windows/<window>.
type Commit struct {
	Files []WindowFile `json:"files"`
}

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Error  string `json:"error"`
	Offset int64  `json:"offset"`
	// Quarantine: the file's content failed verification (a bad bundle, a
	// window outside the range the server accepts). Sending it again
	// cannot succeed; the client sets it aside and ships the rest.
	Quarantine bool `json:"quarantine,omitempty"`
}

// StatusError is the protocol's one error: what the server answers a
// request it refuses with (status, the JSON body, Retry-After when busy),
// and what the client gets back.
type StatusError struct {
	Status     int
	Body       ErrorBody
	RetryAfter time.Duration // from a Retry-After header in seconds
}

// Quarantine reports whether the server refused the file's content: the
// client sets the file aside instead of sending it again.
func (e *StatusError) Quarantine() bool {
	return e.Status == http.StatusUnprocessableEntity && e.Body.Quarantine
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("server: %d %s: %s", e.Status, http.StatusText(e.Status), e.Body.Error)
}

// Retryable reports whether trying again may succeed: the server is busy,
// full, or the transfer went wrong on the way; not a request it refuses.
func (e *StatusError) Retryable() bool {
	if e.Quarantine() {
		return false
	}
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusRequestedRangeNotSatisfiable,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests:
		return true
	}
	return e.Status >= 500
}

// WindowLayout names a window in the protocol and the state files.
const WindowLayout = "20060102_1504"

// target is what an upload names: a sync_file of the gateway or one of its
// config tables.
type target struct {
	name   string
	config bool
	sync   logfile.Name
}

// parseTarget checks an upload name against the contract and the
// authenticated gateway. It rejects anything else, including paths.
func parseTarget(name, gw string) (target, error) {
	if name == "" || strings.ContainsAny(name, "/\\\x00") || strings.Contains(name, "..") {
		return target{}, fmt.Errorf("%q: not a file name", name)
	}
	for _, c := range ConfigNames {
		if name == c {
			return target{name: name, config: true}, nil
		}
	}
	if strings.HasSuffix(name, ".part") {
		return target{}, fmt.Errorf("%q: an open window's .part file is never shipped", name)
	}
	n, err := logfile.ParseName(name, time.Local)
	if err != nil {
		return target{}, err
	}
	if n.String() != name {
		return target{}, fmt.Errorf("%q: not in canonical form %q", name, n.String())
	}
	if n.Gateway != gw {
		return target{}, errForeign
	}
	return target{name: name, sync: n}, nil
}

var errForeign = errors.New("a gateway may only send its own files")

// shipRank orders the files of a window: log tables in ShipOrder, then X.
func shipRank(letter byte) int {
	if i := strings.IndexByte(schema.ShipOrder, letter); i >= 0 {
		return i
	}
	return len(schema.ShipOrder)
}

// frameAround fills in the header of a frame whose data is already in
// buf[frameHeader:], and returns buf.
func frameAround(buf []byte) []byte {
	data := buf[frameHeader:]
	binary.LittleEndian.PutUint32(buf[0:4], uint32(len(data)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(data, castagnoli))
	return buf
}

// framedLen is the body length of size bytes sent as frames of frame bytes.
func framedLen(size, frame int64) int64 {
	frames := (size + frame - 1) / frame
	return size + frames*frameHeader
}

// errBadFrame is a frame whose crc32c does not match its data.
var errBadFrame = errors.New("frame checksum mismatch")

// copyFrame reads one frame and writes its data to w and h as it arrives,
// through buf, checking its crc32c at the end: memory does not grow with
// the frame. It returns the bytes written; on errBadFrame or any error
// after the header, w and h hold part or all of a frame that must be cut.
// A failed write is returned as a *writeError.
func copyFrame(r io.Reader, w io.Writer, h io.Writer, buf []byte, limit int64) (int64, error) {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	n := int64(binary.LittleEndian.Uint32(hdr[:4]))
	if n == 0 || n > MaxFrame || n > limit {
		return 0, &frameSizeError{n, limit}
	}
	crc := uint32(0)
	var done int64
	for done < n {
		k, err := io.ReadFull(r, buf[:min(int64(len(buf)), n-done)])
		if k > 0 {
			crc = crc32.Update(crc, castagnoli, buf[:k])
			if _, werr := w.Write(buf[:k]); werr != nil {
				return done + int64(k), &writeError{werr}
			}
			h.Write(buf[:k])
			done += int64(k)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
	}
	if crc != binary.LittleEndian.Uint32(hdr[4:]) {
		return n, errBadFrame
	}
	return n, nil
}

// writeError is a frame that could not be written where it goes.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

func (e *writeError) Unwrap() error { return e.err }

type frameSizeError struct{ n, limit int64 }

func (e *frameSizeError) Error() string {
	return fmt.Sprintf("frame of %d bytes: more than the declared size allows (%d) or than %d", e.n, e.limit, MaxFrame)
}
