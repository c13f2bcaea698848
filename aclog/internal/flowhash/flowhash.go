// Package flowhash is the hash that shares packets among aclog's workers:
// a symmetric hash of a packet's two IP addresses, so that both directions
// of a session, every fragment of a datagram, and what ties sessions
// between two hosts together (an FTP data connection to its control
// connection, a DNS response to its query) go to one worker, in order.
//
// It is written twice, once in Go (Sum, for captures read from files) and
// once as a classic BPF program (Program, run by the kernel to pick a
// socket of an AF_PACKET fanout group), and both compute the same value,
// so a live capture is shared among workers exactly as the same packets
// read from a file are. The hash is built from what classic BPF can do in
// a few instructions: the XOR of the address words (symmetric), mixed by a
// multiply so that the remainder by the number of workers is spread.
package flowhash

import (
	"encoding/binary"

	"github.com/google/gopacket/layers"
)

// maxTags is how many VLAN tags (802.1Q, 802.1ad) are skipped before the
// IP header: the kernel takes the outermost one off before the fanout
// program runs, which looks past two more.
const maxTags = 3

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
	etherVLAN = 0x8100
	etherQinQ = 0x88a8
)

// Shard is the worker, of n, that a frame of link type lt belongs to.
// Frames that are not IP go to worker 0.
func Shard(lt layers.LinkType, frame []byte, n int) int {
	if n <= 1 {
		return 0
	}
	return int(Sum(lt, frame) % uint32(n))
}

// Sum hashes the IP addresses of a frame; 0 for a frame that is not IP.
func Sum(lt layers.LinkType, frame []byte) uint32 {
	et, ip := ipHeader(lt, frame)
	var h uint32
	switch {
	case et == etherIPv4 && len(ip) >= 20:
		h = word(ip, 12) ^ word(ip, 16)
	case et == etherIPv6 && len(ip) >= 40:
		for off := 8; off < 40; off += 4 {
			h ^= word(ip, off)
		}
	default:
		return 0
	}
	return mix(h)
}

func word(b []byte, off int) uint32 { return binary.BigEndian.Uint32(b[off:]) }

// mix spreads the bits of h (the first half of a well-known 32-bit
// finalizer: the BPF program repeats it instruction by instruction).
func mix(h uint32) uint32 {
	h ^= h >> 16
	h *= mixMul
	h ^= h >> 15
	return h
}

const mixMul = 0x7feb352d

// ipHeader finds the IP header of a frame (Ethernet with VLAN tags, Linux
// cooked, BSD loopback, raw IP) and says which IP version by its
// Ethernet type.
func ipHeader(lt layers.LinkType, data []byte) (etherType uint16, ip []byte) {
	switch lt {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return 0, nil
		}
		et, off := binary.BigEndian.Uint16(data[12:]), 14
		for tags := 0; (et == etherVLAN || et == etherQinQ) && tags < maxTags; tags++ {
			if len(data) < off+4 {
				return 0, nil
			}
			et, off = binary.BigEndian.Uint16(data[off+2:]), off+4
		}
		return et, data[off:]
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return 0, nil
		}
		return binary.BigEndian.Uint16(data[14:]), data[16:]
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < 4 {
			return 0, nil
		}
		return byVersion(data[4:])
	case layers.LinkTypeRaw, 12, 14, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return byVersion(data)
	}
	return 0, nil
}

// byVersion names the IP version of a header that has no Ethernet type
// before it, as the kernel does for such interfaces.
func byVersion(ip []byte) (uint16, []byte) {
	if len(ip) == 0 {
		return 0, nil
	}
	switch ip[0] >> 4 {
	case 4:
		return etherIPv4, ip
	case 6:
		return etherIPv6, ip
	}
	return 0, nil
}
