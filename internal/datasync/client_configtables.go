package datasync

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/fileutil"
)

// shipConfig sends each config table whose md5 differs from what the
// server has. A branch without a config table ships nothing for it; one
// that had it and removed it ships it empty.
func (c *Client) shipConfig(ctx context.Context) error {
	for _, name := range ConfigNames {
		path := filepath.Join(dataroot.Root(c.cfg.Root).Config(), name)
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config %s: %w", name, err)
		}
		if err != nil && c.st.ConfigMD5[name] == "" {
			continue // never had it: nothing to tell head office
		}
		sum := md5.Sum(data)
		md := hex.EncodeToString(sum[:])
		if c.st.ConfigMD5[name] == md {
			continue
		}
		// Send a snapshot, so an edit while sending cannot tear it. It
		// needs no fsync: it is made again before every send.
		snap := filepath.Join(c.outgoingDir(), name)
		if err := writeSnapshot(c.cfg.FS, snap, data); err != nil {
			return fmt.Errorf("config %s: %w", name, err)
		}
		fi, err := os.Stat(snap)
		if err != nil {
			return err
		}
		sha, err := fileSha256(snap)
		if err != nil {
			return err
		}
		wf := wireFile{path: snap, size: fi.Size(), sum: sha}
		if err := c.retry(ctx, name, func() error { _, err := c.sendFile(ctx, name, wf); return err }); err != nil {
			return fmt.Errorf("config %s: %w", name, err)
		}
		// Saved with the next window's commit: a crash before it only
		// costs asking the server again, which answers "complete".
		c.st.ConfigMD5[name] = md
		c.stats.Configs.Add(1)
		c.log.Info("config table shipped", "table", strings.TrimSuffix(name, ".tsv"), "md5", md)
	}
	return nil
}

// writeSnapshot writes data at path, replacing what is there. Its
// directory is made durably all the same: the state is published beside
// it, and MkdirAllFS takes a directory that exists as durable.
func writeSnapshot(fsys fileutil.FS, path string, data []byte) error {
	if err := fileutil.MkdirAllFS(fsys, filepath.Dir(path)); err != nil {
		return err
	}
	f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
