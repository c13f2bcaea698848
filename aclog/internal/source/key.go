package source

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// Key identifies a capture by its content, whatever its name.
type Key [sha256.Size]byte

// Hashing a whole multi-gigabyte capture before reading it would read it
// twice. A capture's first headBytes hold its header and its first
// packets, with their timestamps; its last tailBytes its last packets;
// together with its size they tell captures apart. A file up to
// headBytes+tailBytes is hashed whole.
const (
	headBytes = 4 << 20
	tailBytes = 1 << 20
)

// Identify returns the key of the capture file at path: sha256 of its
// size, its first 4 MiB and its last 1 MiB.
func Identify(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Key{}, err
	}
	h := sha256.New()
	var size [8]byte
	binary.BigEndian.PutUint64(size[:], uint64(fi.Size()))
	h.Write([]byte("acstore capture v1\n"))
	h.Write(size[:])
	if fi.Size() <= headBytes+tailBytes {
		if _, err := io.Copy(h, f); err != nil {
			return Key{}, fmt.Errorf("identify %s: %w", path, err)
		}
	} else {
		if _, err := io.CopyN(h, f, headBytes); err != nil {
			return Key{}, fmt.Errorf("identify %s: %w", path, err)
		}
		if _, err := io.Copy(h, io.NewSectionReader(f, fi.Size()-tailBytes, tailBytes)); err != nil {
			return Key{}, fmt.Errorf("identify %s: %w", path, err)
		}
	}
	var k Key
	h.Sum(k[:0])
	return k, nil
}

// String is the key in hex.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// MarshalText writes the key in hex.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a key in hex.
func (k *Key) UnmarshalText(b []byte) error {
	v, err := ParseKey(string(b))
	*k = v
	return err
}

// ParseKey reads a key in hex.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, fmt.Errorf("capture key %q: want %d hex digits", s, 2*len(k))
	}
	copy(k[:], b)
	return k, nil
}
