package audit

import "github.com/acstore/acstore/aclog/internal/proto/tftp"

// tftpDone reports a transfer the TFTP tracker ended (see package tftp for
// when that is).
func (e *Engine) tftpDone(t *tftp.Transfer) {
	e.stats.FileRecords++
	e.sink.File(&FileTransfer{
		Time: t.Time, Client: t.Client, Server: t.Server, Proto: "tftp", Command: t.Command, Name: t.Name,
		Upload: t.Upload, Size: t.Size, Content: t.Content, Cut: t.Cut, Reply: t.ErrorCode, NoData: t.NoData,
	})
}
