package schema_test

import (
	"testing"
	"time"

	"github.com/acstore/acstore/internal/schema"
)

func TestParseDay(t *testing.T) {
	for _, c := range []struct {
		in, err string
		want    time.Time
	}{
		{in: "20261121", want: time.Date(2026, 11, 21, 0, 0, 0, 0, time.Local)},
		{in: "20240229", want: time.Date(2024, 2, 29, 0, 0, 0, 0, time.Local)},
		{in: "2026112", err: `day "2026112": want YYYYMMDD`},
		{in: "2026-11-21", err: `day "2026-11-21": want YYYYMMDD`},
		{in: "+2026112", err: `day "+2026112": want YYYYMMDD`},
		{in: "", err: `day "": want YYYYMMDD`},
		{in: "20261340", err: `day "20261340": parsing time "20261340": month out of range`},
		{in: "20230229", err: `day "20230229": parsing time "20230229": day out of range`},
	} {
		got, err := schema.ParseDay(c.in)
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("ParseDay(%q) error %v, want %s", c.in, err, c.err)
		case c.err == "" && (err != nil || !got.Equal(c.want)):
			t.Errorf("ParseDay(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}
