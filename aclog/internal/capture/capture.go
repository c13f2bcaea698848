// Package capture delivers packets to aclog from pcap files, pcapng files and
// live interfaces behind one Source interface.
//
// The file readers are written here rather than taken from gopacket/pcapgo:
// pcapgo v1.1.19 cannot tell a file cut in the middle of a pcapng block from a
// clean end, allocates whatever capture length a damaged header claims, and
// panics on some garbage (a zero divisor from a bad if_tsresol option, an
// empty if_filter option). An appliance reading files that a crashed capture
// left behind has to survive all of those, so both readers bound every length
// they read, report a cut file as a TruncatedError after delivering every
// packet before the cut, and report anything else malformed as a FormatError.
package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Source is where packets come from.
type Source interface {
	// ReadPacket returns the next packet. data is only valid until the next
	// call: callers that keep bytes must copy them. At the end of a file it
	// returns io.EOF, or a *TruncatedError if the file was cut short. A live
	// source returns ErrTimeout when no packet arrived within its read timeout,
	// so the caller can expire idle state by wall-clock time.
	ReadPacket() (data []byte, ci gopacket.CaptureInfo, err error)
	// LinkType is the link type of the packet last returned by ReadPacket
	// (pcapng files may mix interfaces of different link types), or of the
	// source's first interface before the first packet.
	LinkType() layers.LinkType
	// Stats reports what the source has delivered and, for live captures,
	// what the kernel dropped.
	Stats() Stats
	// Close releases the file or interface.
	Close() error
}

// Stats counts what a Source delivered.
type Stats struct {
	Packets uint64 // packets returned by ReadPacket
	Bytes   uint64 // captured bytes returned by ReadPacket

	// Kernel counters from libpcap, live captures only (HasKernel true).
	// They are cumulative since the handle was opened.
	HasKernel        bool
	KernelReceived   uint64 // packets the kernel filter accepted
	KernelDropped    uint64 // dropped because the capture buffer was full
	InterfaceDropped uint64 // dropped by the interface or its driver
}

// LinkTypeUnsupported stands for a link type above 255, which gopacket's
// 8-bit layers.LinkType cannot name (LINKTYPE_LINUX_SLL2 is 276).
const LinkTypeUnsupported layers.LinkType = 0xff

func linkType(v uint32) layers.LinkType {
	if v > 0xff {
		return LinkTypeUnsupported
	}
	return layers.LinkType(v)
}

// ErrTruncated matches every *TruncatedError with errors.Is.
var ErrTruncated = errors.New("capture file truncated")

// ErrFormat matches every *FormatError with errors.Is.
var ErrFormat = errors.New("malformed capture file")

// ErrTimeout is returned by a live Source when its read timeout expired
// without a packet. It is not a failure.
var ErrTimeout = errors.New("capture read timeout")

// TruncatedError says a capture file ends in the middle of a record. Every
// complete packet before Offset has been delivered.
type TruncatedError struct {
	Path    string
	Offset  int64  // file offset of the incomplete record
	Packets uint64 // packets delivered before it
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("capture %s: file truncated in the record at byte %d, after %d packets", e.Path, e.Offset, e.Packets)
}

// Is makes errors.Is(err, ErrTruncated) true.
func (e *TruncatedError) Is(target error) bool { return target == ErrTruncated }

// FormatError says a capture file is not a capture file or has a damaged
// header or record.
type FormatError struct {
	Path   string
	Offset int64
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("capture %s: byte %d: %s", e.Path, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrFormat) true.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// maxPacket bounds the capture length of one record. libpcap's largest
// snaplen is 262144; pcapng allows more, but nothing aclog parses needs it,
// and the bound keeps a damaged length field from allocating gigabytes.
const maxPacket = 1 << 18

// maxBlock bounds one pcapng block (a packet plus options and padding).
const maxBlock = maxPacket + 64<<10

const (
	magicMicro = 0xa1b2c3d4
	magicNano  = 0xa1b23c4d
	magicNG    = 0x0a0d0d0a

	// readerBufferBytes holds the largest packet: a pcap record's bytes
	// are returned in place in the buffer (countingReader.next).
	readerBufferBytes = maxPacket
)

// OpenFile opens a pcap or pcapng file (optionally gzip-compressed),
// choosing the format by its magic number.
func OpenFile(path string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	src, err := NewReader(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

// NewReader reads a pcap or pcapng stream. name is used in errors only. If r
// is an io.Closer, Close closes it.
func NewReader(name string, r io.Reader) (Source, error) {
	closer, _ := r.(io.Closer)
	br := bufio.NewReaderSize(r, readerBufferBytes)
	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FormatError{Path: name, Reason: fmt.Sprintf("file too short for a capture header (%d bytes)", len(magic))}
		}
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FormatError{Path: name, Reason: "bad gzip header: " + err.Error()}
		}
		br = bufio.NewReaderSize(zr, readerBufferBytes)
		if magic, err = br.Peek(4); err != nil {
			return nil, &FormatError{Path: name, Reason: "gzip stream too short for a capture header"}
		}
	}
	cr := &countingReader{r: br, path: name}
	switch m := binary.LittleEndian.Uint32(magic); {
	case m == magicNG:
		return newNgReader(cr, closer)
	case m == magicMicro || m == magicNano || bswap(m) == magicMicro || bswap(m) == magicNano:
		return newPcapReader(cr, closer)
	default:
		return nil, &FormatError{Path: name, Reason: fmt.Sprintf("not a pcap or pcapng file (magic %08x)", m)}
	}
}

func bswap(v uint32) uint32 {
	return v>>24 | v>>8&0xff00 | v<<8&0xff0000 | v<<24
}

// countingReader tracks the offset for error messages and turns short reads
// into typed errors.
type countingReader struct {
	r       *bufio.Reader
	path    string
	off     int64
	packets uint64 // delivered so far, for TruncatedError
}

// readFull fills b. A clean end of input before the first byte of a record
// (start true) is io.EOF; an end anywhere else is a *TruncatedError.
func (c *countingReader) readFull(b []byte, recordStart int64, start bool) error {
	n, err := io.ReadFull(c.r, b)
	c.off += int64(n)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF) && n == 0 && start:
		return io.EOF
	default:
		return c.readError(err, recordStart)
	}
}

// next returns the next n bytes (n <= readerBufferBytes) in place in the
// reader's buffer, valid until the next read: a packet's bytes are not
// copied on their way to the caller. A short input is a *TruncatedError.
func (c *countingReader) next(n int, recordStart int64) ([]byte, error) {
	b, err := c.r.Peek(n)
	if err != nil {
		c.off += int64(len(b))
		return nil, c.readError(err, recordStart)
	}
	c.r.Discard(n) // cannot fail: the n bytes are buffered
	c.off += int64(n)
	return b, nil
}

// readError is the error of a read inside the record starting at
// recordStart: an end of input is a *TruncatedError.
func (c *countingReader) readError(err error, recordStart int64) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &TruncatedError{Path: c.path, Offset: recordStart, Packets: c.packets}
	}
	return fmt.Errorf("capture %s: read at byte %d: %w", c.path, c.off, err)
}

func (c *countingReader) formatError(off int64, format string, args ...any) error {
	return &FormatError{Path: c.path, Offset: off, Reason: fmt.Sprintf(format, args...)}
}
