package dns

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Message takes one DNS message sent from src to dst over flow at now. A
// query waits for its response; a response finishes the query it answers,
// or, when none waits, is reported on its own. The error is Parse's when
// payload is not DNS, or ErrNoQuestion for a query that asks nothing.
// payload is not kept after Message returns.
func (t *Tracker[K]) Message(flow K, transport uint8, src, dst netip.AddrPort, payload []byte, now time.Time) error {
	m := &t.msg
	if err := parse(payload, m, t.queryName(flow, payload)); err != nil {
		return err
	}
	key := pairKey[K]{flow: flow, id: m.ID}
	if !m.Response {
		return t.query(key, transport, src, dst, m, now)
	}
	// Every exchange of the response shares its answers: emit may read
	// them only during the call.
	answers := t.answers[:0]
	for _, a := range m.Answers {
		answers = append(answers, Answer{Name: a.Name, Type: a.Type, TTL: a.TTL, Data: a.Data})
	}
	t.answers = answers
	if p := t.m[key]; p != nil && p.at().Before(now.Add(-t.timeout)) {
		// The query timed out before this response, whether or not Expire
		// has seen to it yet (the result must not depend on when Expire
		// runs, nor on how packets are shared among trackers).
		t.take(p)
		t.emitAll(p.ex)
		t.recycle(p)
	}
	if p := t.m[key]; p != nil {
		t.take(p)
		for i := range p.ex {
			x := &p.ex[i]
			x.HasResponse = true
			x.RCode = m.RCode
			x.RTT = now.Sub(x.Time)
			x.Answers = answers
		}
		t.emitAll(p.ex)
		t.recycle(p)
		return nil
	}
	t.unanswered(transport, src, dst, m, answers, now)
	return nil
}

func (t *Tracker[K]) query(key pairKey[K], transport uint8, src, dst netip.AddrPort, m *Message, now time.Time) error {
	if old := t.m[key]; old != nil {
		// Same id on the same flow while one is outstanding: a
		// retransmission or a reused id. The earlier one went unanswered;
		// tshark counts both queries, so do we.
		t.take(old)
		t.emitAll(old.ex)
		t.recycle(old)
	}
	if len(m.Questions) == 0 {
		return ErrNoQuestion
	}
	p := t.newPending(key)
	for _, q := range m.Questions {
		p.ex = append(p.ex, Exchange{
			Time: now, Client: src, Server: dst, Transport: transport,
			ID: m.ID, Name: q.Name, QType: q.Type, QClass: q.Class, HasQuery: true,
		})
	}
	if len(t.m) >= MaxPending {
		t.emitAll(p.ex)
		t.recycle(p)
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
	ex := t.alone[:0]
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
		ex[i].Answers = answers
	}
	t.emitAll(ex)
	clear(ex) // names and answers let go
	t.alone = ex[:0]
}

// queryName returns the name asked by the query waiting for payload when
// payload is a response (by its header), "" otherwise: the response
// repeats it, and usually answers with it.
func (t *Tracker[K]) queryName(flow K, payload []byte) string {
	if len(payload) < 12 || payload[2]&0x80 == 0 {
		return ""
	}
	if p := t.m[pairKey[K]{flow: flow, id: binary.BigEndian.Uint16(payload)}]; p != nil {
		return p.ex[0].Name
	}
	return ""
}
