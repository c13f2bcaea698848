package audit

import (
	"errors"
	"net/netip"

	"github.com/acstore/acstore/aclog/internal/proto/dns"
)

// dnsMessage hands one DNS message sent from src to dst to the tracker that
// pairs queries with responses (package dns). It reports whether payload
// was DNS.
func (e *Engine) dnsMessage(transport Proto, src, dst netip.AddrPort, payload []byte) bool {
	k, _ := makeKey(transport, src, dst)
	err := e.dnsq.Message(k, uint8(transport), src, dst, payload, e.now)
	if err != nil {
		e.stats.DNSErrors++
	}
	return err == nil || errors.Is(err, dns.ErrNoQuestion)
}

// emitDNS reports an exchange the tracker finished.
func (e *Engine) emitDNS(x *dns.Exchange) {
	e.stats.DNSRecords++
	ev := &e.evDNS
	*ev = DNSQuery{
		Time: x.Time, Client: x.Client, Server: x.Server, Transport: Proto(x.Transport),
		ID: x.ID, Name: x.Name, QType: x.QType, QClass: x.QClass,
		HasQuery: x.HasQuery, HasResponse: x.HasResponse, RCode: x.RCode, Answers: x.Answers, RTT: x.RTT,
	}
	e.sink.DNS(ev)
}
