//go:build cgo

package capture

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
)

// liveSource reads from an interface through libpcap (cgo).
type liveSource struct {
	h     *pcap.Handle
	name  string
	stats Stats
}

// OpenLive starts capturing on an interface. It needs the privileges libpcap
// needs (root or CAP_NET_RAW).
func OpenLive(cfg LiveConfig) (Source, error) {
	if cfg.Snaplen <= 0 {
		cfg.Snaplen = maxPacket
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	in, err := pcap.NewInactiveHandle(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", cfg.Interface, err)
	}
	defer in.CleanUp()
	if err := in.SetSnapLen(cfg.Snaplen); err != nil {
		return nil, fmt.Errorf("capture %s: snaplen %d: %w", cfg.Interface, cfg.Snaplen, err)
	}
	if err := in.SetPromisc(cfg.Promisc); err != nil {
		return nil, fmt.Errorf("capture %s: promisc: %w", cfg.Interface, err)
	}
	// A finite timeout lets the caller expire idle sessions when the link
	// is quiet.
	if err := in.SetTimeout(cfg.Timeout); err != nil {
		return nil, fmt.Errorf("capture %s: timeout: %w", cfg.Interface, err)
	}
	if cfg.BufferSize > 0 {
		if err := in.SetBufferSize(cfg.BufferSize); err != nil {
			return nil, fmt.Errorf("capture %s: buffer size %d: %w", cfg.Interface, cfg.BufferSize, err)
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, fmt.Errorf("capture %s: activate: %w", cfg.Interface, err)
	}
	if cfg.Filter != "" {
		if err := h.SetBPFFilter(cfg.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture %s: filter %q: %w", cfg.Interface, cfg.Filter, err)
		}
	}
	return &liveSource{h: h, name: cfg.Interface}, nil
}

func (s *liveSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.h.ZeroCopyReadPacketData()
	if err != nil {
		var ne pcap.NextError
		if errors.As(err, &ne) && ne == pcap.NextErrorTimeoutExpired {
			return nil, ci, ErrTimeout
		}
		return nil, ci, fmt.Errorf("capture %s: %w", s.name, err)
	}
	s.stats.Packets++
	s.stats.Bytes += uint64(len(data))
	return data, ci, nil
}

func (s *liveSource) LinkType() layers.LinkType { return s.h.LinkType() }

func (s *liveSource) Stats() Stats {
	st := s.stats
	// Not every platform reports kernel counters; then HasKernel stays false.
	if ks, err := s.h.Stats(); err == nil {
		st.HasKernel = true
		st.KernelReceived = uint64(ks.PacketsReceived)
		st.KernelDropped = uint64(ks.PacketsDropped)
		st.InterfaceDropped = uint64(ks.PacketsIfDropped)
	}
	return st
}

func (s *liveSource) Close() error {
	s.h.Close()
	return nil
}
