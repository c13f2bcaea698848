package audit

// Stats counts what the engine saw. All counters are cumulative.
type Stats struct {
	Packets uint64 // given to Packet
	Bytes   uint64 // their on-wire length

	Decoded     uint64 // reached a TCP or UDP header
	NonIP       uint64 // link payload was not IP (ARP, LLDP, ...): skipped
	OtherIP     uint64 // IP but neither TCP nor UDP (ICMP, ...): skipped
	UnknownLink uint64 // link type the engine cannot decode
	Malformed   uint64 // could not be decoded: counted and skipped
	Truncated   uint64 // shorter than the IP header said (snaplen)

	Fragments        uint64 // IP fragments seen
	Reassembled      uint64 // datagrams rebuilt from fragments
	FragmentsDropped uint64 // fragments of datagrams never completed

	TCPGaps     uint64 // holes TCP reassembly had to skip
	TCPGapBytes uint64 // bytes in those holes

	SessionsTCP     uint64 // TCP sessions emitted
	SessionsUDP     uint64 // UDP sessions emitted
	SessionsDropped uint64 // packets of sessions not tracked (MaxSessions)

	Restarts uint64 // packet time jumped back: everything open was ended (Restart)

	HTTPRecords       uint64
	DNSRecords        uint64
	TLSRecords        uint64
	MailRecords       uint64 // Mail events (messages and STARTTLS notes)
	CredentialRecords uint64
	FileRecords       uint64
	PostRecords       uint64
	ChatRecords       uint64
	TextErrors        uint64 // lines of SMTP, POP3, IMAP, FTP, IRC, XMPP that could not be parsed
	HTTPErrors        uint64 // malformed HTTP messages skipped
	DNSErrors         uint64 // malformed DNS messages skipped
	TLSErrors         uint64 // malformed TLS records or messages
}
