package http

import "time"

// ParseDatagram parses one request carried whole in a datagram, as SSDP
// (HTTP over UDP, port 1900) sends them. It reports false when the datagram
// is not a complete request.
func ParseDatagram(b []byte, ts time.Time) (*Transaction, bool) {
	var got *Transaction
	c := NewConn(func(tx *Transaction) {
		if got == nil {
			v := *tx // the Conn reuses tx
			got = &v
		}
	})
	c.Data(true, b, ts)
	c.Close(ts)
	if got == nil || got.Incomplete {
		return nil, false
	}
	return got, true
}
