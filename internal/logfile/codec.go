package logfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// Codec is the compression of a sync_file.
type Codec int

// The codecs. LZ4 is fast and the default; xz is about twice smaller and
// much slower, for thin links.
const (
	LZ4 Codec = iota
	XZ
	Plain // load_files: no compression
)

func (c Codec) String() string {
	switch c {
	case LZ4:
		return "lz4"
	case XZ:
		return "xz"
	case Plain:
		return "plain"
	}
	return fmt.Sprintf("Codec(%d)", int(c))
}

// ParseCodec parses "lz4" or "xz".
func ParseCodec(s string) (Codec, error) {
	switch s {
	case "lz4", "":
		return LZ4, nil
	case "xz", "lzma":
		return XZ, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want lz4 or xz)", s)
}

// Set and the String method let a Codec be a flag.Value.
func (c *Codec) Set(s string) error {
	v, err := ParseCodec(s)
	if err == nil {
		*c = v
	}
	return err
}

var (
	lz4Magic = []byte{0x04, 0x22, 0x4d, 0x18}
	xzMagic  = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// Sniff tells the codec of a sync_file from its first bytes (six are
// enough).
func Sniff(head []byte) (Codec, bool) {
	switch {
	case bytes.HasPrefix(head, lz4Magic):
		return LZ4, true
	case bytes.HasPrefix(head, xzMagic):
		return XZ, true
	}
	return 0, false
}

// appendFrame compresses rows into one self-contained frame (an LZ4 frame or
// an xz stream) written to w. Concatenated frames are what `lz4 -dc` and
// `xz -dc` read as one file.
func appendFrame(w io.Writer, c Codec, rows []byte) error {
	return writeFrame(w, c, nil, func(zw io.Writer) error {
		_, err := zw.Write(rows)
		return err
	})
}

// writeFrame writes one frame of codec c to w holding what write writes
// to its writer; an LZ4 frame goes through zw when it is not nil.
func writeFrame(w io.Writer, c Codec, zw *lz4.Writer, write func(io.Writer) error) error {
	switch c {
	case LZ4:
		if zw == nil {
			var err error
			if zw, err = newLZ4Writer(w); err != nil {
				return err
			}
		} else {
			zw.Reset(w)
		}
		if err := write(zw); err != nil {
			return fmt.Errorf("lz4: %w", err)
		}
		return zw.Close()
	case XZ:
		// One block per MiB bounds what a damaged block can cost.
		zw, err := xz.WriterConfig{BlockSize: 1 << 20, CheckSum: xz.CRC32}.NewWriter(w)
		if err != nil {
			return fmt.Errorf("xz: %w", err)
		}
		if err := write(zw); err != nil {
			return fmt.Errorf("xz: %w", err)
		}
		return zw.Close()
	case Plain:
		return write(w)
	}
	return fmt.Errorf("append frame: unknown codec %v", c)
}

// frameWriter is appendFrame with one LZ4 compressor kept from frame to
// frame (a new one allocates its block buffers), and a buffer for the
// frames compressed before they can be appended.
type frameWriter struct {
	lz4 *lz4.Writer
	buf writeBuffer
}

// append writes rows as one frame to w.
func (f *frameWriter) append(w io.Writer, c Codec, rows *rowBuf) error {
	if c == LZ4 && f.lz4 == nil {
		zw, err := newLZ4Writer(w)
		if err != nil {
			return err
		}
		f.lz4 = zw
	}
	return writeFrame(w, c, f.lz4, rows.writeTo)
}

func newLZ4Writer(w io.Writer) (*lz4.Writer, error) {
	zw := lz4.NewWriter(w)
	// Block checksums let the reader reject a damaged block before it
	// hands out a single row of it.
	if err := zw.Apply(lz4.BlockChecksumOption(true), lz4.ChecksumOption(true),
		lz4.BlockSizeOption(lz4.Block4Mb)); err != nil {
		return nil, fmt.Errorf("lz4 options: %w", err)
	}
	return zw, nil
}

// onlyReader hides every method but Read. lz4.Reader's WriteTo has stopped
// after the first frame of a multi-frame file (pierrec/lz4 issue 257); io.Copy
// and bufio would call it.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// decompressor returns a reader of the uncompressed bytes of a sync_file
// whose beginning is buffered in br.
// lim bounds the memory the decoder may take (the xz dictionary).
func decompressor(br *bufio.Reader, lim Limits) (io.Reader, Codec, error) {
	head, err := br.Peek(len(xzMagic))
	if len(head) == 0 && errors.Is(err, io.EOF) {
		return bytes.NewReader(nil), LZ4, nil // an empty file: a window opened, nothing flushed
	}
	c, ok := Sniff(head)
	if !ok && errors.Is(err, io.EOF) && (bytes.HasPrefix(lz4Magic, head) || bytes.HasPrefix(xzMagic, head)) {
		// A power cut tore the first frame inside its magic: no rows, and
		// a torn tail for the spool to cut.
		return errReader{errors.New("first frame cut inside its magic")}, LZ4, nil
	}
	if !ok {
		return nil, 0, fmt.Errorf("not a sync_file: unknown magic % x", head)
	}
	switch c {
	case LZ4:
		return onlyReader{lz4.NewReader(br)}, c, nil
	default:
		zr, err := xz.NewReader(newXZGuard(br, lim.withDefaults().MaxDict))
		if err != nil {
			return nil, c, fmt.Errorf("xz: %w", err)
		}
		return onlyReader{zr}, c, nil
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
