package tls

import "testing"

func TestNames(t *testing.T) {
	for v, want := range map[uint16]string{0x0301: "TLSv1.0", 0x0304: "TLSv1.3", 0x7f12: "TLSv1.3-draft18", 0x0300: "SSLv3", 0x1234: "0x1234"} {
		if got := VersionString(v); got != want {
			t.Errorf("VersionString(%#x) = %q, want %q", v, got, want)
		}
	}
	if got := CipherSuiteString(0x1301); got != "TLS_AES_128_GCM_SHA256" {
		t.Errorf("cipher %q", got)
	}
	if got := CipherSuiteString(0x0004); got != "TLS_RSA_WITH_RC4_128_MD5" {
		t.Errorf("cipher %q", got)
	}
}
