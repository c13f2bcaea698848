package datasync

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// chunked returns at most the next cut's worth of bytes per Read, the cuts
// taken from cuts in turn: the same stream split at arbitrary points, as
// TCP may deliver it.
type chunked struct {
	r    io.Reader
	cuts []byte
	i    int
}

func (c *chunked) Read(p []byte) (int, error) {
	n := 1
	if len(c.cuts) > 0 {
		n = 1 + int(c.cuts[c.i%len(c.cuts)])
		c.i++
	}
	return c.r.Read(p[:min(n, len(p))])
}

// frameEvent is what copyFrame made of one frame.
type frameEvent struct {
	n    int64
	data string
	err  string
}

// readFrames reads frames from r until an error, as the server reads an
// upload.
func readFrames(r io.Reader, limit int64) []frameEvent {
	var out []frameEvent
	buf := make([]byte, 7) // smaller than a frame: data arrives in pieces
	for {
		var w, h bytes.Buffer
		n, err := copyFrame(r, &w, &h, buf, limit)
		ev := frameEvent{n: n, data: w.String()}
		if err != nil {
			ev.err = err.Error()
			var fs *frameSizeError
			if errors.As(err, &fs) {
				ev.err = "size"
			}
		}
		if w.String() != h.String() {
			ev.err += "; hash saw other bytes than the file"
		}
		out = append(out, ev)
		if err != nil {
			return out
		}
	}
}

// FuzzFrames feeds copyFrame arbitrary bytes, and the same bytes behind
// valid frames of fuzzed payloads, whole and split at fuzzed points: the
// events are the same however the stream is cut; no frame writes more
// than its header or the limit allow; a frame that checks out gives back
// exactly the payload it was made of.
func FuzzFrames(f *testing.F) {
	f.Add([]byte("hello"), []byte{0, 3, 1}, []byte{})
	f.Add([]byte{}, []byte{5}, []byte{1, 0, 0, 0, 0, 0, 0, 0, 'x'})
	f.Add([]byte(strings.Repeat("frame", 40)), []byte{2, 200}, []byte{255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, payload, cuts, junk []byte) {
		const limit = 64
		var stream []byte
		var want []string
		for p := payload; len(p) > 0; {
			k := min(len(p), 50)
			buf := append(make([]byte, frameHeader), p[:k]...)
			stream = append(stream, frameAround(buf)...)
			want = append(want, string(p[:k]))
			p = p[k:]
		}
		stream = append(stream, junk...)
		whole := readFrames(bytes.NewReader(stream), limit)
		split := readFrames(&chunked{r: bytes.NewReader(stream), cuts: cuts}, limit)
		if len(whole) != len(split) {
			t.Fatalf("whole: %d events, split: %d", len(whole), len(split))
		}
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("event %d: whole %+v, split %+v", i, whole[i], split[i])
			}
			if whole[i].n > limit || int64(len(whole[i].data)) > limit {
				t.Fatalf("event %d wrote %d bytes, beyond the limit %d", i, len(whole[i].data), limit)
			}
		}
		for i, w := range want {
			if i >= len(whole) || whole[i].err != "" || whole[i].data != w {
				t.Fatalf("frame %d of valid payload: got %+v, want %q", i, whole[min(i, len(whole)-1)], w)
			}
		}
	})
}

// FuzzParseTarget: whatever name a peer sends, an accepted one is a plain
// file name of the sending gateway, in canonical form, and the path the
// server writes it to stays under the server's root.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"20261121_1315_5F86F7A5_A.dat", "users.tsv", "../x", "20261121_1315_5F86F7A5_A.dat.part",
		"20261121_1315_0000BEEF_X.dat", "20261121_1316_5F86F7A5_A.dat", "a/b", "20261121_1315_5f86f7a5_A.dat"} {
		f.Add(s)
	}
	const gw = "5F86F7A5"
	s := &Server{cfg: ServerConfig{Root: "/srv/acstore"}}
	f.Fuzz(func(t *testing.T, name string) {
		tg, err := parseTarget(name, gw)
		if err != nil {
			return
		}
		if tg.name != name || strings.ContainsAny(name, "/\\\x00") || strings.Contains(name, "..") {
			t.Fatalf("accepted %q as %+v", name, tg)
		}
		if !tg.config {
			if tg.sync.Gateway != gw || tg.sync.String() != name {
				t.Fatalf("accepted %q: gateway %q, canonical %q", name, tg.sync.Gateway, tg.sync.String())
			}
		}
		for _, p := range []string{s.finalPath(gw, tg), s.incomingPath(gw, tg, 1, strings.Repeat("0", 64))} {
			rel, err := filepath.Rel(s.cfg.Root, p)
			if err != nil || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
				t.Fatalf("%q is written to %q, outside %s", name, p, s.cfg.Root)
			}
		}
	})
}
