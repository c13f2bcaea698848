package datasync

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/acstore/acstore/internal/dataroot"
	"github.com/acstore/acstore/internal/fileutil"
	"github.com/acstore/acstore/internal/logfile"
	"github.com/acstore/acstore/internal/schema"
)

type fileSum struct {
	size  int64
	mtime time.Time
	sum   string
}

// wireFile is what goes on the wire for a file: the file itself, or its
// recompression.
type wireFile struct {
	path string
	size int64
	sum  string
}

// prepare returns the bytes to send for f: the file as stored when it has
// the wire codec already, else its rows recompressed to xz in the outgoing
// directory (kept until the window is committed, so a resumed upload sends
// the same bytes).
func (c *Client) prepare(f localFile) (wireFile, error) {
	path := f.path
	if c.cfg.Codec == logfile.XZ && f.name.Table != schema.Attachments && f.size > 0 {
		codec, err := sniffFile(f.path)
		if err != nil {
			return wireFile{}, err
		}
		if codec == logfile.LZ4 {
			if path, err = c.recompress(f); err != nil {
				return wireFile{}, err
			}
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return wireFile{}, err
	}
	sum, err := c.sha256(path, fi)
	if err != nil {
		return wireFile{}, err
	}
	return wireFile{path: path, size: fi.Size(), sum: sum}, nil
}

func (c *Client) sha256(path string, fi os.FileInfo) (string, error) {
	c.mu.Lock()
	s, ok := c.sums[path]
	c.mu.Unlock()
	if ok && s.size == fi.Size() && s.mtime.Equal(fi.ModTime()) {
		return s.sum, nil
	}
	sum, err := fileSha256(path)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if len(c.sums) > 10_000 {
		clear(c.sums)
	}
	c.sums[path] = fileSum{fi.Size(), fi.ModTime(), sum}
	c.mu.Unlock()
	return sum, nil
}

func sniffFile(path string) (logfile.Codec, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var head [6]byte
	n, _ := io.ReadFull(f, head[:])
	if c, ok := logfile.Sniff(head[:n]); ok {
		return c, nil
	}
	return 0, fmt.Errorf("%s: not a sync_file (unknown magic % x)", path, head[:n])
}

func (c *Client) outgoingDir() string {
	return filepath.Join(dataroot.Root(c.cfg.Root).State("datasync"), "outgoing")
}

// recompress writes the rows of an LZ4 sync_file as one xz stream, with
// the block settings aclog uses for xz files.
func (c *Client) recompress(f localFile) (string, error) {
	dir := c.outgoingDir()
	out := filepath.Join(dir, fmt.Sprintf("%s.%d.xz", f.name.String(), f.size))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	rs, err := logfile.OpenRows(f.path, logfile.LZ4)
	if err != nil {
		return "", err
	}
	defer rs.Close()
	// A file found at out is reused as is (a resumed upload must send the
	// same bytes), so it must be whole even after a power cut: published
	// by fileutil (temp, fsync, rename, fsync the directory). A bare
	// rename could leave out naming an empty or torn xz file after a cut,
	// shipped and committed as the window's complete file.
	tmp, err := fileutil.CreateFS(c.cfg.FS, out, dir)
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	zw, err := xz.WriterConfig{BlockSize: 1 << 20, CheckSum: xz.CRC32}.NewWriter(bw)
	if err != nil {
		tmp.Abort()
		return "", err
	}
	if _, err := io.Copy(zw, rs); err != nil {
		tmp.Abort()
		return "", fmt.Errorf("recompress %s: %w", f.name, err)
	}
	if rs.Err() != nil {
		c.log.Warn("sync_file has a torn tail; shipping its complete rows", "file", f.name.String(), "err", rs.Err())
	}
	if err := zw.Close(); err != nil {
		tmp.Abort()
		return "", err
	}
	if err := bw.Flush(); err != nil {
		tmp.Abort()
		return "", err
	}
	if err := tmp.Commit(); err != nil {
		return "", fmt.Errorf("recompress %s: %w", f.name, err)
	}
	return out, nil
}

func (c *Client) removeOutgoing(w *window) {
	for _, f := range w.files {
		c.cfg.FS.Remove(filepath.Join(c.outgoingDir(), fmt.Sprintf("%s.%d.xz", f.name.String(), f.size)))
	}
}
