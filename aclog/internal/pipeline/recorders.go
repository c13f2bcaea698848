package pipeline

import (
	"github.com/acstore/acstore/aclog/internal/audit"
	"github.com/acstore/acstore/aclog/internal/record"
	"github.com/acstore/acstore/internal/configtab"
	"github.com/acstore/acstore/internal/logfile"
)

// recorders are the lanes' recorders, in lane order: one when the engine
// runs on the loop's goroutine. Their methods here are for the loop's
// goroutine while it holds them (no epoch in flight); each goes through
// them in lane order, so that rows written directly come in the order the
// files goroutine would commit them in.
type recorders []*record.Recorder

// newRecorders returns n recorders writing to rows (one each), sharing
// the cap on rows held for folding as the workers share the engine's.
func newRecorders(rows []logfile.RowWriter, conf *configtab.Tables, cfg record.Config) recorders {
	if n := len(rows); n > 1 {
		cfg.Reduce.MaxTracked = max(1, cfg.Reduce.MaxTracked/n)
	}
	rs := make(recorders, len(rows))
	for k, w := range rows {
		rs[k] = record.New(w, conf, cfg)
	}
	return rs
}

// sinks returns the recorders as the lanes' sinks.
func (rs recorders) sinks() []audit.Sink {
	s := make([]audit.Sink, len(rs))
	for k, r := range rs {
		s[k] = r
	}
	return s
}

func (rs recorders) SetSource(src string) {
	for _, r := range rs {
		r.SetSource(src)
	}
}

// Stats adds up the recorders' counters.
func (rs recorders) Stats() record.Stats {
	var st record.Stats
	for _, r := range rs {
		st = addRecordStats(st, r.Stats())
	}
	return st
}

// lastError is the last reason a recorder could not write a row (of the
// last recorder that had one), nil if none.
func (rs recorders) lastError() error {
	var why error
	for _, r := range rs {
		if _, err := r.Errors(); err != nil {
			why = err
		}
	}
	return why
}

// Errors counts the rows the recorders could not write.
func (rs recorders) Errors() uint64 {
	n := uint64(0)
	for _, r := range rs {
		e, _ := r.Errors()
		n += e
	}
	return n
}

func (rs recorders) Close() {
	for _, r := range rs {
		r.Close()
	}
}

func (rs recorders) Restart() {
	for _, r := range rs {
		r.Restart()
	}
}
