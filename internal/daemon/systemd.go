package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// notifySystemd speaks the sd_notify protocol for units of Type=notify:
// READY=1 once the daemon serves, WATCHDOG=1 at half the unit's
// WatchdogSec with the stats line as STATUS= (so `systemctl status` shows
// it), and STOPPING=1 when ctx ends. Outside systemd (no NOTIFY_SOCKET)
// every call is a no-op.
func notifySystemd(ctx context.Context, log *slog.Logger, line func() []any) {
	sent, err := sd.SdNotify(false, sd.SdNotifyReady+"\nSTATUS="+statusText(line()))
	if err != nil {
		log.Warn("systemd notify", "err", err)
	}
	if !sent {
		return
	}
	every, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog", "err", err)
	}
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every / 2)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			sd.SdNotify(false, sd.SdNotifyStopping)
			return
		case <-tick:
			if _, err := sd.SdNotify(false, sd.SdNotifyWatchdog+"\nSTATUS="+statusText(line())); err != nil {
				log.Warn("systemd watchdog", "err", err)
			}
		}
	}
}

// statusText renders stats-line attributes as key=value words.
func statusText(attrs []any) string {
	var b strings.Builder
	r := slog.NewRecord(time.Time{}, 0, "", 0)
	r.Add(attrs...)
	r.Attrs(func(a slog.Attr) bool {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%v", a.Key, a.Value)
		return true
	})
	return strings.ReplaceAll(b.String(), "\n", " ")
}
