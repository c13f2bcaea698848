//go:build !linux || !cgo

package capture

import "errors"

// OpenAFPacket needs Linux and cgo; elsewhere use OpenLive (libpcap).
func OpenAFPacket(LiveConfig, int) (Source, error) {
	return nil, errors.New("AF_PACKET capture needs Linux and a cgo build: use -capture pcap")
}
