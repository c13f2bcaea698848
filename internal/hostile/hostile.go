// Package hostile makes the files a broken or compromised branch could
// send, for tests: small files whose headers claim gigabytes (xz
// dictionaries, lz4 content sizes, attachment sizes) and files that expand
// enormously. It also measures a process's peak memory, the outcome those
// tests assert. Nothing here is used outside tests.
package hostile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// XZDict returns rows compressed as one xz stream whose first block header
// claims a dictionary of code (0..40; 37 is 1.5 GiB, 40 is 4 GiB), with the
// header's CRC32 fixed so that only the size is wrong.
func XZDict(rows []byte, code byte) []byte {
	var buf bytes.Buffer
	zw, err := xz.WriterConfig{DictCap: 64 << 10, BufSize: 64 << 10, CheckSum: xz.CRC32}.NewWriter(&buf)
	if err != nil {
		panic(err)
	}
	zw.Write(rows)
	zw.Close()
	b := buf.Bytes()
	// The stream header is 12 bytes; the block header follows. ulikunitz
	// writes one filter, LZMA2 (id 0x21, one byte of properties) last.
	hdr := b[12 : 12+(int(b[12])+1)*4]
	i := bytes.Index(hdr, []byte{0x21, 0x01})
	if i < 0 {
		panic("hostile: no LZMA2 filter in the block header")
	}
	hdr[i+2] = code
	binary.LittleEndian.PutUint32(hdr[len(hdr)-4:], crc32.ChecksumIEEE(hdr[:len(hdr)-4]))
	return b
}

// LZ4Endless writes an lz4 frame of n bytes of 'a' and no newline: one row
// that never ends. 520 MiB compress to about 2 MB.
func LZ4Endless(w io.Writer, n int64) error {
	zw := lz4.NewWriter(w)
	if err := zw.Apply(lz4.BlockSizeOption(lz4.Block4Mb)); err != nil {
		return err
	}
	chunk := bytes.Repeat([]byte{'a'}, 1<<20)
	for n > 0 {
		k := min(n, int64(len(chunk)))
		if _, err := zw.Write(chunk[:k]); err != nil {
			return err
		}
		n -= k
	}
	return zw.Close()
}

// LZ4Rows writes rows as an lz4 frame of 4 MiB blocks, as aclog does.
func LZ4Rows(w io.Writer, rows []byte) error {
	zw := lz4.NewWriter(w)
	if err := zw.Apply(lz4.BlockSizeOption(lz4.Block4Mb)); err != nil {
		return err
	}
	if _, err := zw.Write(rows); err != nil {
		return err
	}
	return zw.Close()
}

// LZ4Claim returns a small lz4 frame whose descriptor claims claim bytes of
// content and 4 MiB blocks, holding a few rows.
func LZ4Claim(rows []byte, claim uint64) []byte {
	var buf bytes.Buffer
	zw := lz4.NewWriter(&buf)
	if err := zw.Apply(lz4.BlockSizeOption(lz4.Block4Mb), lz4.SizeOption(claim)); err != nil {
		panic(err)
	}
	zw.Write(rows)
	zw.Close()
	return buf.Bytes()
}

// Entry is one entry of a hand-made X bundle.
type Entry struct {
	Sum    [32]byte // the sha256 the entry claims
	Size   uint64   // the size it claims
	Stored []byte   // the data as stored
	LZ4    bool     // Stored is an lz4 frame
}

// Bundle returns an X bundle (internal/xbundle/FORMAT.md) of the entries,
// without an index, written by hand so that sizes can lie.
func Bundle(entries ...Entry) []byte {
	c := crc32.MakeTable(crc32.Castagnoli)
	b := []byte("ACXB\x01\x00\x00\x00")
	for i, e := range entries {
		name := fmt.Sprintf("e%d", i)
		h := append([]byte("XENT"), e.Sum[:]...)
		h = binary.LittleEndian.AppendUint64(h, e.Size)
		h = binary.LittleEndian.AppendUint64(h, uint64(len(e.Stored)))
		codec := byte(0)
		if e.LZ4 {
			codec = 1
		}
		h = append(h, codec)
		h = binary.LittleEndian.AppendUint16(h, uint16(len(name)))
		h = binary.LittleEndian.AppendUint16(h, 0)
		h = append(h, name...)
		h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, c))
		b = append(b, h...)
		b = append(b, e.Stored...)
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(e.Stored, c))
	}
	return b
}

// ZeroEntry returns an entry of n zero bytes, lz4-compressed: 400 MiB
// store in about 1.6 MB. Its sha256 is right.
func ZeroEntry(n int64) Entry {
	var buf bytes.Buffer
	zw := lz4.NewWriter(&buf)
	h := sha256.New()
	chunk := make([]byte, 1<<20)
	for left := n; left > 0; {
		k := min(left, int64(len(chunk)))
		zw.Write(chunk[:k])
		h.Write(chunk[:k])
		left -= k
	}
	zw.Close()
	return Entry{Sum: [32]byte(h.Sum(nil)), Size: uint64(n), Stored: buf.Bytes(), LZ4: true}
}

// PeakRSS returns the peak resident memory (VmHWM) of process pid, 0 for
// this one, in bytes.
func PeakRSS(pid int) (int64, error) {
	return statusField(pid, "VmHWM:")
}

// RSS returns the resident memory (VmRSS) of process pid, 0 for this one.
func RSS(pid int) (int64, error) {
	return statusField(pid, "VmRSS:")
}

func statusField(pid int, field string) (int64, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, field)
}
