package tls

import (
	cryptotls "crypto/tls"
	"fmt"
)

// VersionString names a protocol version ("TLSv1.2", "SSLv3", "0x7f12").
func VersionString(v uint16) string {
	switch v {
	case 0:
		return ""
	case 0x0300:
		return "SSLv3"
	case 0x0301:
		return "TLSv1.0"
	case 0x0302:
		return "TLSv1.1"
	case 0x0303:
		return "TLSv1.2"
	case 0x0304:
		return "TLSv1.3"
	}
	if v>>8 == 0x7f {
		return fmt.Sprintf("TLSv1.3-draft%d", v&0xff)
	}
	return fmt.Sprintf("0x%04x", v)
}

// CipherSuiteString names a cipher suite (IANA name, or 0x hex).
func CipherSuiteString(id uint16) string {
	if id == 0 {
		return ""
	}
	if n, ok := legacySuites[id]; ok {
		return n
	}
	return cryptotls.CipherSuiteName(id)
}

// legacySuites names suites crypto/tls does not know but old clients and
// servers on audited networks still negotiate.
var legacySuites = map[uint16]string{
	0x0004: "TLS_RSA_WITH_RC4_128_MD5",
	0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
	0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
	0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
	0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
	0x006b: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
	0x009d: "TLS_RSA_WITH_AES_256_GCM_SHA384",
	0x009e: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
	0x009f: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
	0xc024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
	0xc028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
}
