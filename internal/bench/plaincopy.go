package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/acstore/acstore/internal/datasync"
)

// plainCopy sends the files over one TCP connection, each as its length
// and bytes, and the receiver writes each into a file; it returns the time
// until the receiver has closed the last one.
func plainCopy(files []string, dst string, fsync bool, link int64) (time.Duration, error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return 0, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() { done <- receiveFiles(ln, dst, fsync) }()
	start := time.Now()
	addr, stop, err := thinLink(ln.Addr().String(), link)
	if err != nil {
		return 0, err
	}
	defer stop()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	if err := sendFiles(c, files); err != nil {
		c.Close()
		return 0, err
	}
	c.Close()
	err = <-done
	return time.Since(start), err
}

// receiveFiles accepts one connection on ln and writes each file sent on
// it (its length and bytes) into dst, named by its number, until EOF.
func receiveFiles(ln net.Listener, dst string, fsync bool) error {
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	for i := 0; ; i++ {
		var n [8]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		f, err := os.Create(filepath.Join(dst, fmt.Sprint(i)))
		if err != nil {
			return err
		}
		_, err = io.CopyN(f, c, int64(binary.LittleEndian.Uint64(n[:])))
		if err == nil && fsync {
			err = f.Sync()
		}
		f.Close()
		if err != nil {
			return err
		}
	}
}

// sendFiles sends each of files on c as its length and bytes.
func sendFiles(c net.Conn, files []string) error {
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		fi, _ := f.Stat()
		c.Write(binary.LittleEndian.AppendUint64(nil, uint64(fi.Size())))
		_, err = io.Copy(c, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// thinLink returns an address that forwards to target at most rate bytes
// per second each way, like a thin VPN link; rate 0 returns target itself.
func thinLink(target string, rate int64) (string, func(), error) {
	if rate <= 0 {
		return target, func() {}, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				d, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer d.Close()
				done := make(chan struct{})
				go func() { shapedCopy(d, c, datasync.NewLimiter(rate)); close(done) }()
				shapedCopy(c, d, datasync.NewLimiter(rate))
				<-done
			}()
		}
	}()
	return ln.Addr().String(), func() { ln.Close() }, nil
}

// shapedCopy copies src to dst, waiting on l before each write.
func shapedCopy(dst, src net.Conn, l *datasync.Limiter) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			l.Wait(context.Background(), n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}
