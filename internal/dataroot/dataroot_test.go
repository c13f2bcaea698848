package dataroot_test

import (
	"testing"

	"github.com/acstore/acstore/internal/dataroot"
)

// TestLayout pins the on-disk layout: programs of different versions on
// one root, and a root restored from backup, must agree on it.
func TestLayout(t *testing.T) {
	r := dataroot.Root("/data")
	for _, tt := range []struct{ got, want string }{
		{r.Sync(), "/data/sync"},
		{r.SyncGateway("5F86F7A5"), "/data/sync/5F86F7A5"},
		{r.SyncDay("*", "20261121"), "/data/sync/*/20261121"},
		{r.Load(), "/data/load"},
		{r.Config(), "/data/config"},
		{r.GatewayConfig("5F86F7A5"), "/data/config/5F86F7A5"},
		{r.State("midtable"), "/data/state/midtable"},
		{r.PushState(), "/data/state/datasync/client.json"},
		{r.ServeState(), "/data/state/datasync/server.json"},
		{r.Incoming("*"), "/data/incoming/*"},
		{r.Attachments("5F86F7A5"), "/data/attachments/5F86F7A5"},
		{r.AttachmentsDay("5F86F7A5", "20261121"), "/data/attachments/5F86F7A5/20261121"},
		{r.Lock("loader"), "/data/loader.lock"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}
