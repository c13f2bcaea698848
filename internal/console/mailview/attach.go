// Package mailview finds what a mail row refers to: its attachments, listed
// in the row (one line each: sha256 in the X bundle or "-", size, media
// type, original name), and their content, read by sha256 from the
// unpacked attachments at head office (<data>/attachments/<GW>/<day>/) or
// from the window's X bundle (<data>/sync/<GW>/<day>/..._X.dat) on a
// branch. Content is always checked against its sha256, and nothing
// outside those directories is ever opened: the caller names an
// attachment by the row and its position, never by a path.
package mailview

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/xbundle"
)

// Attachment is one line of a row's attachment list.
type Attachment struct {
	Index int
	SHA   string // 64 hex digits, or "" when the content was not kept
	Size  int64
	Type  string
	Name  string
}

// Kept reports whether the content is in the X store.
func (a Attachment) Kept() bool { return a.SHA != "" }

// Parse reads an attachment list (attachments of M, file_names of P).
func Parse(list string) []Attachment {
	var out []Attachment
	for _, line := range strings.Split(list, "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, " ", 4)
		if len(f) < 4 {
			continue
		}
		a := Attachment{Index: len(out), Type: f[2], Name: f[3]}
		if ValidSHA(f[0]) {
			a.SHA = f[0]
		}
		a.Size, _ = strconv.ParseInt(f[1], 10, 64)
		out = append(out, a)
	}
	return out
}

// ValidSHA reports whether s is 64 lower-case hex digits.
func ValidSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ErrNotFound means no store holds the content.
var ErrNotFound = errors.New("attachment content not found in the X store")

// Content returns the content with sha256 sum of a row of gateway gw at
// time ts, from the data root.
func Content(root, gw string, ts time.Time, sum string) ([]byte, error) {
	if !logfile.ValidGateway(gw) || !ValidSHA(sum) {
		return nil, ErrNotFound
	}
	day := ts.Format("20060102")
	// Head office: datasync unpacked the bundles.
	if data, err := os.ReadFile(filepath.Join(dataroot.Root(root).AttachmentsDay(gw, day), sum)); err == nil {
		if hex.EncodeToString(hashOf(data)) == sum {
			return data, nil
		}
	}
	// Branch: the bundles themselves, the row's window first.
	first := logfile.Name{Window: logfile.WindowStart(ts), Gateway: gw, Table: 'X'}.Path(root)
	paths := []string{first}
	dir := filepath.Dir(first)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("attachments: %w", err)
	}
	var others []string
	for _, e := range entries {
		n, err := logfile.ParseName(e.Name(), time.Local)
		if err == nil && n.Table == 'X' && !strings.HasSuffix(e.Name(), ".part") && filepath.Join(dir, e.Name()) != first {
			others = append(others, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(others)
	for _, p := range append(paths, others...) {
		data, err := fromBundle(p, sum)
		if err == nil {
			return data, nil
		}
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, ErrNotFound
}

func hashOf(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func fromBundle(path, sum string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	r, err := xbundle.NewReader(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range r.Entries() {
		if e.Hex() == sum {
			return r.Content(e)
		}
	}
	return nil, ErrNotFound
}

// SafeType returns t if it is a well-formed media type, else
// application/octet-stream.
func SafeType(t string) string {
	if mt, params, err := mime.ParseMediaType(t); err == nil {
		return mime.FormatMediaType(mt, params)
	}
	return "application/octet-stream"
}

// Disposition returns a Content-Disposition that downloads the content
// under its original name (RFC 6266: an ASCII fallback and filename*).
func Disposition(name string) string {
	base := name
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	if base == "" || base == "." || base == ".." {
		base = "attachment"
	}
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == ';' {
			return '_'
		}
		return r
	}, base)
	if d := mime.FormatMediaType("attachment", map[string]string{"filename": base}); d != "" {
		return d
	}
	return `attachment; filename="` + ascii + `"`
}
