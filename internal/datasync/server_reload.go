package datasync

import (
	"context"
	"errors"
	"os"
	"os/signal"
)

// Reload reads the -gateways file and the TLS certificate, key and CA
// again. Connections and uploads in flight go on with what they started
// with; new requests and handshakes use the new ones. On an error nothing
// changes.
func (s *Server) Reload() error {
	var errs []error
	if s.cfg.GatewaysFile != "" {
		gws, err := ReadGateways(s.cfg.GatewaysFile)
		if err != nil {
			errs = append(errs, err)
		} else {
			s.gateways.Store(&gws)
		}
	}
	if s.tlsCfg.Load() != nil {
		tcfg, err := s.cfg.TLS.serverTLS()
		if err != nil {
			errs = append(errs, err)
		} else {
			s.tlsCfg.Store(tcfg)
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		s.log.Error("reload failed; the previous gateways and certificates stay in use", "err", err)
	} else {
		s.log.Info("reloaded", "gateways", len(*s.gateways.Load()), "tls", s.tlsCfg.Load() != nil)
	}
	return err
}

// ReloadOn calls Reload whenever one of sigs (SIGHUP for serve) arrives,
// until ctx ends.
func (s *Server) ReloadOn(ctx context.Context, sigs ...os.Signal) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				s.Reload()
			}
		}
	}()
}
