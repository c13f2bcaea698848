package mailview

import "testing"

func TestParse(t *testing.T) {
	sha := "61479904e443b354d4427a51b990c696f731e341e4c63328e07c1a92658ba591"
	got := Parse(sha + " 310 application/zip a b.zip\n- 12 text/plain cut.txt\n../../etc/passwd 1 text/plain x\nbad line\n")
	want := []Attachment{
		{Index: 0, SHA: sha, Size: 310, Type: "application/zip", Name: "a b.zip"},
		{Index: 1, Size: 12, Type: "text/plain", Name: "cut.txt"},
		{Index: 2, Size: 1, Type: "text/plain", Name: "x"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d attachments, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestDisposition(t *testing.T) {
	for name, want := range map[string]string{
		"a.zip":            `attachment; filename=a.zip`,
		"../../etc/passwd": `attachment; filename=passwd`,
		`C:\x\报告.doc`:      `attachment; filename*=utf-8''%E6%8A%A5%E5%91%8A.doc`,
		"..":               `attachment; filename=attachment`,
	} {
		if got := Disposition(name); got != want {
			t.Errorf("Disposition(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestSafeType(t *testing.T) {
	for in, want := range map[string]string{"application/zip": "application/zip", "text/html; charset=utf-8": "text/html; charset=utf-8",
		"<script>": "application/octet-stream", "": "application/octet-stream"} {
		if got := SafeType(in); got != want {
			t.Errorf("SafeType(%q) = %q, want %q", in, got, want)
		}
	}
}
