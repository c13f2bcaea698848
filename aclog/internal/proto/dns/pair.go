package dns

import (
	"net/netip"
	"slices"
	"time"
)

// Message takes one DNS message sent from src to dst over flow at now. A
// query waits for its response; a response finishes the query it answers,
// or, when none waits, is reported on its own. The error is Parse's when
// payload is not DNS, or ErrNoQuestion for a query that asks nothing.
// payload is not kept after Message returns.
func (t *Tracker[K]) Message(flow K, transport uint8, src, dst netip.AddrPort, payload []byte, now time.Time) error {
	m := &t.msg
	if err := Parse(payload, m); err != nil {
		return err
	}
	key := pairKey[K]{flow: flow, id: m.ID}
	if !m.Response {
		return t.query(key, transport, src, dst, m, now)
	}
	answers := make([]Answer, 0, len(m.Answers))
	for _, a := range m.Answers {
		answers = append(answers, Answer{Name: a.Name, Type: a.Type, TTL: a.TTL, Data: a.Data})
	}
	if p := t.m[key]; p != nil && p.at().Before(now.Add(-t.timeout)) {
		// The query timed out before this response, whether or not Expire
		// has seen to it yet (the result must not depend on when Expire
		// runs, nor on how packets are shared among trackers).
		t.take(p)
		t.emitAll(p.ex)
	}
	if p := t.m[key]; p != nil {
		t.take(p)
		for i := range p.ex {
			x := &p.ex[i]
			x.HasResponse = true
			x.RCode = m.RCode
			x.RTT = now.Sub(x.Time)
			x.Answers = shareOnce(answers, i)
		}
		t.emitAll(p.ex)
		return nil
	}
	t.unanswered(transport, src, dst, m, answers, now)
	return nil
}

// shareOnce gives the first exchange answers itself and every other one a
// copy: exchanges must not share.
func shareOnce(answers []Answer, i int) []Answer {
	if i == 0 {
		return answers
	}
	return slices.Clone(answers)
}

func (t *Tracker[K]) query(key pairKey[K], transport uint8, src, dst netip.AddrPort, m *Message, now time.Time) error {
	if old := t.m[key]; old != nil {
		// Same id on the same flow while one is outstanding: a
		// retransmission or a reused id. The earlier one went unanswered;
		// tshark counts both queries, so do we.
		t.take(old)
		t.emitAll(old.ex)
	}
	if len(m.Questions) == 0 {
		return ErrNoQuestion
	}
	p := &pending[K]{key: key}
	p.ex = p.one[:0]
	for _, q := range m.Questions {
		p.ex = append(p.ex, Exchange{
			Time: now, Client: src, Server: dst, Transport: transport,
			ID: m.ID, Name: q.Name, QType: q.Type, QClass: q.Class, HasQuery: true,
		})
	}
	if len(t.m) >= MaxPending {
		t.emitAll(p.ex)
		return nil
	}
	t.push(p)
	return nil
}

// unanswered reports a response whose query was not seen (the capture
// started late, the query went another way, a duplicate response, mDNS
// announcements): still an exchange, from the response's own question
// section, or from its first answer when it has no question.
func (t *Tracker[K]) unanswered(transport uint8, src, dst netip.AddrPort, m *Message, answers []Answer, now time.Time) {
	var ex []Exchange
	for _, q := range m.Questions {
		ex = append(ex, Exchange{
			Time: now, Client: dst, Server: src, Transport: transport,
			ID: m.ID, Name: q.Name, QType: q.Type, QClass: q.Class,
			HasResponse: true, RCode: m.RCode,
		})
	}
	if len(ex) == 0 && len(answers) > 0 {
		ex = append(ex, Exchange{
			Time: now, Client: dst, Server: src, Transport: transport,
			ID: m.ID, Name: answers[0].Name, QType: answers[0].Type, QClass: 1,
			HasResponse: true, RCode: m.RCode,
		})
	}
	for i := range ex {
		ex[i].Answers = shareOnce(answers, i)
	}
	t.emitAll(ex)
}
