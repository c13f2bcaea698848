package datasync

import (
	"errors"
	"io/fs"
	"net/http"
	"path/filepath"
	"syscall"
)

// usage returns the bytes a gateway stores, walking its directories the
// first time.
func (s *Server) usage(gw string) int64 {
	s.mu.Lock()
	n, ok := s.used[gw]
	s.mu.Unlock()
	if ok {
		return n
	}
	n = 0
	for _, d := range []string{s.root().SyncGateway(gw), s.root().Attachments(gw), s.root().Incoming(gw)} {
		filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				if fi, err := e.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
	}
	s.mu.Lock()
	s.used[gw] = n
	s.mu.Unlock()
	return n
}

func (s *Server) addUsage(gw string, n int64) {
	s.usage(gw)
	s.mu.Lock()
	s.used[gw] += n
	s.mu.Unlock()
}

func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func (s *Server) diskErr(err error, offset int64) error {
	if isDiskFull(err) {
		s.stats.DiskFull.Add(1)
		e := fail(http.StatusInsufficientStorage, "head office disk is full (%v); kept %d bytes, retry later", err, offset)
		e.Body.Offset = offset
		return e
	}
	return err
}
