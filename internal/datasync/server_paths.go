package datasync

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/acstore/acstore/internal/dataroot"
)

// root is the server's data root, for its layout.
func (s *Server) root() dataroot.Root { return dataroot.Root(s.cfg.Root) }

// finalPath is where a target is published.
func (s *Server) finalPath(gw string, t target) string {
	if t.config {
		return filepath.Join(s.root().GatewayConfig(gw), t.name)
	}
	return t.sync.Path(s.cfg.Root)
}

func (s *Server) incomingPath(gw string, t target, size int64, sum string) string {
	// The size and hash in the name keep a re-sent file whose content
	// changed (late rows) from resuming on the old bytes.
	return filepath.Join(s.root().Incoming(gw), fmt.Sprintf("%s.%s.%d.part", t.name, sum[:16], size))
}

func (s *Server) parseTarget(gw, name string) (target, error) {
	t, err := parseTarget(name, gw)
	if errors.Is(err, errForeign) {
		return t, fail(http.StatusForbidden, "gateway %s may not write %q: %v", gw, name, err)
	}
	if err != nil {
		return t, fail(http.StatusBadRequest, "%v", err)
	}
	return t, nil
}

// acceptTarget parses the file a request names and, for a sync_file,
// checks its window: both before anything of the request is stored.
func (s *Server) acceptTarget(gw, name string) (target, error) {
	t, err := s.parseTarget(gw, name)
	if err != nil {
		return t, err
	}
	if !t.config {
		if err := s.checkWindow(gw, name, t.sync.Window); err != nil {
			return t, err
		}
	}
	return t, nil
}
