package audit

import (
	"net/netip"
	"slices"
	"time"

	"github.com/acstore/acstore/aclog/internal/proto/dns"
)

// maxPendingDNS bounds queries waiting for responses; past it a query is
// emitted at once without one.
const maxPendingDNS = 1 << 16

type dnsKey struct {
	flow flowKey
	id   uint16
}

type dnsPending struct {
	key   dnsKey
	recs  []*DNSQuery  // one per question
	one   [1]*DNSQuery // recs' storage for the usual single question
	links links[dnsPending]
}

// at is when the query was seen (every record of it has that time).
func (p *dnsPending) at() time.Time { return p.recs[0].Time }

func (p *dnsPending) link() *links[dnsPending] { return &p.links }

// dnsTracker pairs queries with responses by 5-tuple and transaction id,
// for DNS over UDP and over TCP alike. The queries waiting are also in a
// list, oldest first, so expiry looks only at those that time out.
type dnsTracker struct {
	m     map[dnsKey]*dnsPending
	queue fifo[dnsPending, *dnsPending]
}

func (t *dnsTracker) init() { t.m = make(map[dnsKey]*dnsPending) }

// take removes a pending query.
func (t *dnsTracker) take(p *dnsPending) {
	delete(t.m, p.key)
	t.queue.remove(p)
}

// dnsMessage handles one DNS message sent from src to dst. It reports
// whether payload was DNS.
func (e *Engine) dnsMessage(transport Proto, src, dst netip.AddrPort, payload []byte) bool {
	m := &e.dnsMsg
	if err := dns.Parse(payload, m); err != nil {
		e.stats.DNSErrors++
		return false
	}
	k, _ := makeKey(transport, src, dst)
	key := dnsKey{flow: k, id: m.ID}
	if !m.Response {
		if old := e.dnsq.m[key]; old != nil {
			// Same id on the same 5-tuple while one is outstanding: a
			// retransmission or a reused id. The earlier one went
			// unanswered; tshark counts both queries, so do we.
			e.dnsq.take(old)
			e.emitDNS(old.recs)
		}
		if len(m.Questions) == 0 {
			e.stats.DNSErrors++ // a query that asks nothing
			return true
		}
		p := &dnsPending{key: key}
		p.recs = p.one[:0]
		for _, q := range m.Questions {
			p.recs = append(p.recs, &DNSQuery{
				Time: e.now, Client: src, Server: dst, Transport: transport,
				ID: m.ID, Name: q.Name, QType: q.Type, QClass: q.Class, HasQuery: true,
			})
		}
		if len(e.dnsq.m) >= maxPendingDNS {
			e.emitDNS(p.recs)
			return true
		}
		e.dnsq.m[key] = p
		e.dnsq.queue.push(p)
		return true
	}
	answers := make([]DNSAnswer, 0, len(m.Answers))
	for _, a := range m.Answers {
		answers = append(answers, DNSAnswer{Name: a.Name, Type: a.Type, TTL: a.TTL, Data: a.Data})
	}
	if p := e.dnsq.m[key]; p != nil && p.at().Before(e.now.Add(-e.cfg.DNSTimeout)) {
		// The query timed out before this response, whether or not a
		// sweep has seen to it yet (the result must not depend on when
		// sweeps run, nor on how packets are shared among engines).
		e.dnsq.take(p)
		e.emitDNS(p.recs)
	}
	if p := e.dnsq.m[key]; p != nil {
		e.dnsq.take(p)
		for i, r := range p.recs {
			r.HasResponse = true
			r.RCode = m.RCode
			r.RTT = e.now.Sub(r.Time)
			if i == 0 {
				r.Answers = answers
			} else {
				r.Answers = slices.Clone(answers) // records must not share
			}
		}
		e.emitDNS(p.recs)
		return true
	}
	// A response whose query we did not see (capture started late, the
	// query went another way, a duplicate response, mDNS announcements):
	// still a record, from the response's own question section.
	var recs []*DNSQuery
	for _, q := range m.Questions {
		recs = append(recs, &DNSQuery{
			Time: e.now, Client: dst, Server: src, Transport: transport,
			ID: m.ID, Name: q.Name, QType: q.Type, QClass: q.Class,
			HasResponse: true, RCode: m.RCode,
		})
	}
	if len(recs) == 0 && len(answers) > 0 {
		recs = append(recs, &DNSQuery{
			Time: e.now, Client: dst, Server: src, Transport: transport,
			ID: m.ID, Name: answers[0].Name, QType: answers[0].Type, QClass: 1,
			HasResponse: true, RCode: m.RCode,
		})
	}
	for i, r := range recs {
		if i == 0 {
			r.Answers = answers
		} else {
			r.Answers = slices.Clone(answers)
		}
	}
	e.emitDNS(recs)
	return true
}

func (e *Engine) emitDNS(recs []*DNSQuery) {
	for _, r := range recs {
		e.stats.DNSRecords++
		e.sink.DNS(r)
	}
}

// expire emits queries older than cutoff (all of them if all) without a
// response, oldest first.
func (t *dnsTracker) expire(e *Engine, cutoff time.Time, all bool) {
	for p := t.queue.front(); p != nil && (all || p.at().Before(cutoff)); p = t.queue.front() {
		t.take(p)
		e.emitDNS(p.recs)
	}
}
