package datasync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// shipWindow sends a window's files in order, then commits the window.
// A file the server refuses for its content is set aside (quarantined) and
// the window is committed without it: one bad file must not stop a branch.
func (c *Client) shipWindow(ctx context.Context, w *window) error {
	files := make([]localFile, 0, len(w.files))
	for _, f := range w.files {
		if !c.quarantined(f) {
			files = append(files, f)
		}
	}
	commit, err := c.shipFiles(ctx, files)
	if err != nil {
		return fmt.Errorf("window %s: %w", w.name, err)
	}
	err = c.commit(ctx, w.name, commit)
	var se *StatusError
	if errors.As(err, &se) && se.Quarantine() {
		// The server refuses the window itself (out of its range, say a
		// clock that jumped ahead): the whole window is set aside, and the
		// watermark stays where it is, or the real windows before it
		// would pass for shipped.
		for _, f := range files {
			c.quarantine(f, se)
		}
		c.log.Error("the server refuses this window; its files are set aside", "window", w.name, "err", se.Body.Error)
		return c.st.save(c.cfg.FS, c.cfg.Root)
	} else if err != nil {
		return fmt.Errorf("window %s: %w", w.name, err)
	}
	c.shipped(w)
	c.stats.Windows.Add(1)
	c.removeOutgoing(w)
	if err := c.st.save(c.cfg.FS, c.cfg.Root); err != nil {
		return err
	}
	c.log.Debug("window shipped", "window", w.name, "files", len(w.files))
	return nil
}

// shipFiles sends files, which start in shipping order; with -parallel
// above 1, up to that many are on the wire at once (the window is loaded
// only after its commit, so this changes no result, only which bytes a
// cut loses). A file the server refuses for its content is quarantined
// and left out of the commit returned.
func (c *Client) shipFiles(ctx context.Context, files []localFile) (Commit, error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := c.prepareAhead(pctx, files)
	sent := make([]WindowFile, len(files))
	errs := make([]error, len(files))
	slots := make(chan struct{}, c.cfg.Parallel)
	var wg sync.WaitGroup
	for i, f := range files {
		p := <-ready
		if p.err != nil {
			errs[i] = fmt.Errorf("%s: %w", f.name, p.err)
			break
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[i], errs[i] = c.shipFile(ctx, f, p.wf)
			<-slots
		}()
	}
	wg.Wait()
	commit := Commit{Files: make([]WindowFile, 0, len(files))}
	for i, err := range errs {
		var se *StatusError
		if errors.As(err, &se) && se.Quarantine() {
			c.quarantine(files[i], se)
			errs[i] = nil
		} else if err == nil && sent[i].Name != "" {
			commit.Files = append(commit.Files, sent[i])
		}
	}
	return commit, errors.Join(errs...)
}

// commit posts a window's commit, signed with the sha256 of its body.
func (c *Client) commit(ctx context.Context, name string, commit Commit) error {
	body, _ := json.Marshal(commit)
	sum := sha256.Sum256(body)
	hdr := http.Header{HeaderSha256: {hex.EncodeToString(sum[:])}} // signed: binds the body
	return c.retry(ctx, "commit "+name, func() error {
		_, err := c.do(ctx, http.MethodPost, "/v1/windows/"+name, hdr, bytes.NewReader(body), int64(len(body)), nil)
		return err
	})
}

// shipped records a committed window's files (those not set aside) and
// moves the watermarks past it.
func (c *Client) shipped(w *window) {
	for _, f := range w.files {
		if c.quarantined(f) {
			continue
		}
		c.st.Shipped[f.name.String()] = f.size
		letter := string(f.name.Table)
		if w.name > c.st.LastShipped[letter] {
			c.st.LastShipped[letter] = w.name
		}
	}
	if w.name > c.st.Watermark {
		c.st.Watermark = w.name
	}
	c.st.prune(c.horizon())
}

// quarantined reports whether f is set aside as it is now; a file that
// changed since (late rows) is tried again.
func (c *Client) quarantined(f localFile) bool {
	q, ok := c.st.Quarantined[f.name.String()]
	return ok && q.Size == f.size
}

// allQuarantined reports whether every file of w is set aside as it is.
func (c *Client) allQuarantined(w *window) bool {
	for _, f := range w.files {
		if !c.quarantined(f) {
			return false
		}
	}
	return len(w.files) > 0
}

// quarantine sets f aside: recorded in the state (shown by status) and
// counted. The file stays where it is, for the branch's own loader and
// recover.
func (c *Client) quarantine(f localFile, se *StatusError) {
	if c.quarantined(f) {
		return // already, for its file; the window's refusal adds nothing
	}
	c.st.Quarantined[f.name.String()] = Quarantined{Size: f.size, Reason: se.Body.Error, At: time.Now()}
	c.stats.Quarantined.Add(1)
	c.log.Error("the server refused this file's content; it is set aside (quarantined) and the rest is shipped",
		"file", f.name.String(), "err", se.Body.Error)
}

type prepared struct {
	wf  wireFile
	err error
}

// prepareAhead prepares (hashes, and recompresses for xz) the files of a
// window in order, one file ahead of the upload: the next file is hashed
// while this one is on the wire. The files still go one at a time, in
// shipping order.
func (c *Client) prepareAhead(ctx context.Context, files []localFile) <-chan prepared {
	ch := make(chan prepared, 1)
	go func() {
		defer close(ch)
		for _, f := range files {
			wf, err := c.prepare(f)
			select {
			case ch <- prepared{wf, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// shipFile sends one prepared file unless the server has it already.
func (c *Client) shipFile(ctx context.Context, f localFile, wf wireFile) (WindowFile, error) {
	name := f.name.String()
	sent := false
	err := c.retry(ctx, name, func() error {
		var err error
		sent, err = c.sendFile(ctx, name, wf)
		return err
	})
	if err != nil {
		return WindowFile{}, fmt.Errorf("%s: %w", name, err)
	}
	if sent {
		c.stats.Files.Add(1)
		c.stats.Bytes.Add(uint64(f.size))
	} else {
		c.stats.Skipped.Add(1)
	}
	return WindowFile{Name: name, Size: wf.size, Sha256: wf.sum}, nil
}
