// Package dns parses DNS messages (RFC 1035 wire format, as carried by DNS,
// mDNS and LLMNR over UDP, and by DNS over TCP after its length prefix) into
// the few fields an audit log keeps: the questions, the answer records as
// text, and the response code.
//
// It is a small hand-written parser rather than gopacket's layers.DNS so that
// every length is bounded, compression loops are cut off, and a record it does
// not know is rendered generically instead of failing the whole message.
//
// A Tracker pairs queries with their responses into Exchanges, one per
// question.
//
// # Lifecycle
//
// One Tracker serves every DNS message of a capture, in capture order,
// whatever the transport:
//
//   - Message takes one message with the capture's clock and the flow it
//     travelled. A query waits for its response; a response finishes the
//     query with its flow and id, or is reported on its own when none
//     waits. A second query with the flow and id of one still waiting ends
//     the first, unanswered. The message is not kept after Message returns.
//   - Every Exchange is passed to the emit func once, and is the Tracker's
//     again when emit returns, its Answers included: the Tracker reuses
//     their memory for the next message (a callee that keeps them copies
//     them; strings are immutable and may be kept as they are).
//   - Expire(now, false) reports the queries that waited longer than the
//     timeout, oldest first, and costs only what it reports;
//     Expire(_, true) reports every query still waiting (the end of the
//     capture, or its clock going back). A response that comes after its
//     query's timeout is reported apart from it whether or not Expire ran
//     in between, so the records do not depend on when Expire is called.
//
// At most MaxPending queries wait at once; past that a query is reported
// at once, without its response.
package dns
