package audit

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/acstore/acstore/aclog/internal/capture"
)

// Run feeds every packet of src to e until the source ends, ctx is done, or
// a read fails. A clean end of file returns nil; a truncated file returns
// its *capture.TruncatedError after every packet before the cut was
// processed. Run does not Close the engine, so several files can be fed in
// turn; on live read timeouts it calls Flush with the wall clock.
func Run(ctx context.Context, src capture.Source, e *Engine) error {
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		data, ci, err := src.ReadPacket()
		switch {
		case err == nil:
			e.Packet(src.LinkType(), data, ci)
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, capture.ErrTimeout):
			e.Flush(time.Now())
		default:
			return err
		}
	}
}
