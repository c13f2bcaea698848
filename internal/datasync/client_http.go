package datasync

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// sendFile asks the server where it is with the file and sends the rest.
// It reports whether any bytes had to be sent.
func (c *Client) sendFile(ctx context.Context, name string, wf wireFile) (bool, error) {
	q := "?size=" + strconv.FormatInt(wf.size, 10) + "&sha256=" + wf.sum
	var st FileStatus
	if _, err := c.do(ctx, http.MethodGet, "/v1/files/"+url.PathEscape(name)+q, nil, nil, 0, &st); err != nil {
		return false, err
	}
	if st.Complete {
		return false, nil
	}
	f, err := os.Open(wf.path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	body := &frameReader{ctx: ctx, r: f, off: st.Offset, size: wf.size, frame: int64(c.cfg.FrameSize), lim: c.lim, wire: &c.stats.WireBytes}
	hdr := http.Header{}
	hdr.Set(HeaderOffset, strconv.FormatInt(st.Offset, 10))
	hdr.Set(HeaderSize, strconv.FormatInt(wf.size, 10))
	hdr.Set(HeaderSha256, wf.sum)
	var res FileStatus
	if _, err := c.do(ctx, http.MethodPut, "/v1/files/"+url.PathEscape(name), hdr, body, framedLen(wf.size-st.Offset, int64(c.cfg.FrameSize)), &res); err != nil {
		return true, err
	}
	if !res.Complete {
		return true, fmt.Errorf("server did not complete %s", name)
	}
	return true, nil
}

// do sends one request and decodes its JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body io.Reader, n int64, out any) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = n
		if n == 0 {
			req.Body = http.NoBody
		}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	Sign(req, c.cfg.Gateway, c.cfg.Secret)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp, err
	}
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{Status: resp.StatusCode}
		if json.Unmarshal(data, &se.Body) != nil {
			se.Body.Error = strings.TrimSpace(string(data))
		}
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			se.RetryAfter = min(time.Duration(n)*time.Second, c.cfg.MaxBackoff)
		}
		return resp, se
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("server answer: %w", err)
		}
	}
	return resp, nil
}

func (c *Client) progress(ctx context.Context) (Progress, error) {
	var p Progress
	err := c.retry(ctx, "progress", func() error {
		_, err := c.do(ctx, http.MethodGet, "/v1/progress", nil, nil, 0, &p)
		return err
	})
	return p, err
}
