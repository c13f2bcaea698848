//go:build !cgo

package capture

import "errors"

// OpenLive needs libpcap through cgo; this build has cgo disabled, so file
// capture works and live capture reports why it cannot.
func OpenLive(cfg LiveConfig) (Source, error) {
	return nil, errors.New("capture " + cfg.Interface + ": live capture needs a cgo build with libpcap")
}
