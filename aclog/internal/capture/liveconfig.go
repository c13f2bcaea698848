package capture

import "time"

// LiveConfig configures a live capture.
type LiveConfig struct {
	Interface string
	Filter    string        // BPF expression; empty captures everything
	Snaplen   int           // bytes kept per packet; 0 means 262144
	Promisc   bool          // put the interface into promiscuous mode
	Timeout   time.Duration // read timeout; 0 means 250ms
	// BufferSize is the kernel capture buffer in bytes; 0 keeps libpcap's
	// default. A larger buffer absorbs bursts that would otherwise be
	// counted as KernelDropped.
	BufferSize int
}
