package textconn

import (
	"strings"
	"testing"
)

func TestDotBody(t *testing.T) {
	tests := []struct{ in, body, after string }{
		{"a\r\nb\r\n.\r\nQUIT\r\n", "a\r\nb\r\n", "QUIT"},
		{".\r\nX\r\n", "", "X"},
		{"..x\r\n.y\r\n.\r\nZ\r\n", ".x\r\ny\r\n", "Z"},
		{"a\r\n.\rb\r\n.\n", "a\r\n\rb\r\n", ""},
	}
	for _, tt := range tests {
		for split := 0; split <= len(tt.in); split++ {
			var h Half
			h.StartDot(1 << 20)
			var body string
			var lines []string
			feed := func(b string) {
				h.Feed([]byte(b), func(l []byte) { lines = append(lines, string(l)) }, func() { body = string(h.Body) })
			}
			feed(tt.in[:split])
			feed(tt.in[split:])
			if body != tt.body || strings.Join(lines, "|") != tt.after {
				t.Errorf("%q split %d: body %q lines %q", tt.in, split, body, lines)
			}
		}
	}
}

func TestCountAndCaps(t *testing.T) {
	var h Half
	h.StartCount(10, 4)
	var got string
	h.Feed([]byte("0123456789tail\r\n"), func(l []byte) { got = string(l) }, func() {
		if string(h.Body) != "0123" || h.BodyLen != 10 || !h.Cut {
			t.Errorf("body %q len %d cut %v", h.Body, h.BodyLen, h.Cut)
		}
	})
	if got != "tail" {
		t.Errorf("line after body %q", got)
	}
	h = Half{}
	n := 0
	h.Feed([]byte(strings.Repeat("x", MaxLine+10)), func([]byte) { n++ }, nil)
	h.Feed([]byte("yyy\r\nok\r\n"), func(l []byte) {
		n++
		if string(l) != "ok" {
			t.Errorf("line %q after an over-long one", l)
		}
	}, nil)
	if n != 1 || h.LongLines != 1 || len(h.line) != 0 {
		t.Errorf("lines %d long %d", n, h.LongLines)
	}
}
