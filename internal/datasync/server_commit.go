package datasync

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// commit records a window as received once each file the client lists is
// published with the size and sha256 it says.
func (s *Server) commit(r *http.Request, gw, win string) (any, error) {
	w, err := time.ParseInLocation(WindowLayout, win, time.Local)
	if err != nil || w.Minute()%5 != 0 || windowName(w) != win {
		return nil, fail(http.StatusBadRequest, "bad window %q (want YYYYMMDD_HHMM on a 5-minute boundary)", win)
	}
	if err := s.checkWindow(gw, "commit", w); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, fail(http.StatusRequestTimeout, "commit body: %v", err)
	}
	// The signature covers the header, the header covers the body.
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != r.Header.Get(HeaderSha256) {
		return nil, fail(http.StatusBadRequest, "commit body does not match its signed %s", HeaderSha256)
	}
	var c Commit
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fail(http.StatusBadRequest, "commit body: %v", err)
	}
	for _, f := range c.Files {
		t, err := s.parseTarget(gw, f.Name)
		if err != nil {
			return nil, err
		}
		if t.config || !t.sync.Window.Equal(w) {
			return nil, fail(http.StatusBadRequest, "%s is not a file of window %s", f.Name, win)
		}
		sum, size, err := s.publishedSum(t.sync.Path(s.cfg.Root))
		if err != nil {
			return nil, err
		}
		if sum != f.Sha256 || size != f.Size {
			return nil, fail(http.StatusConflict, "window %s: %s is not here as declared (have %d bytes, sha256 %q); send it first", win, f.Name, size, sum)
		}
	}
	if err := s.state.received(gw, win); err != nil {
		return nil, err
	}
	s.stats.Windows.Add(1)
	s.notifyLoad(gw)
	return s.progress(gw)
}

func (s *Server) progress(gw string) (Progress, error) {
	p := Progress{Gateway: gw, LastWindow: s.state.get(gw).LastReceived, ConfigMD5: make(map[string]string)}
	for _, name := range ConfigNames {
		data, err := os.ReadFile(filepath.Join(s.root().GatewayConfig(gw), name))
		if err == nil {
			p.ConfigMD5[name] = md5hex(data)
		}
	}
	return p, nil
}

func md5hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}
