package pipeline

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

func sumValues(m map[string]uint64) uint64 {
	n := uint64(0)
	for _, v := range m {
		n += v
	}
	return n
}

// StatsLine is the one-line report: packets captured, decoded, dropped by
// the kernel and by aclog, reassembly gaps, rows per table, rows that could
// not be written and rows held in memory (a full disk), queue depth.
func (p *Pipeline) StatsLine() []any {
	s := p.Snapshot()
	rows := make([]any, 0, 8)
	for _, l := range []byte("AUPMCOISQFT") {
		rows = append(rows, slog.Uint64(string(l), s.Spool.Rows[l]))
	}
	return []any{
		slog.Uint64("captured", s.Source.Packets),
		slog.Int64("captured_per_s", int64(s.PacketRate)),
		slog.Uint64("decoded", s.Engine.Decoded),
		slog.Uint64("kernel_dropped", s.Source.KernelDropped),
		slog.Int64("kernel_dropped_per_s", int64(s.KernelDropRate)),
		slog.Uint64("if_dropped", s.Source.InterfaceDropped),
		slog.Int64("if_dropped_per_s", int64(s.IfDropRate)),
		slog.Uint64("malformed", s.Engine.Malformed),
		slog.Uint64("untracked", s.Engine.SessionsDropped),
		slog.Uint64("tcp_gaps", s.Engine.TCPGaps),
		slog.Group("rows", rows...),
		slog.Uint64("row_errors", s.RowErrors),
		slog.Uint64("write_errors", s.Spool.WriteErrors),
		slog.Int("rows_held", s.Spool.HeldRows),
		slog.Int("held_bytes", s.Spool.HeldBytes),
		slog.Uint64("reduced", sumValues(s.Record.Reduced)),
		slog.Uint64("x_files", s.Record.XFiles),
		slog.Uint64("x_cut", s.Record.XCutFile+s.Record.XCutWindow),
		slog.Int("open_windows", s.Spool.OpenWindows),
		slog.Bool("load_paused", s.Spool.LoadPaused),
	}
}

// Register adds aclog's metrics to reg.
func (p *Pipeline) Register(reg prometheus.Registerer) {
	counter := func(name, help string, v func(Snapshot) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "acstore", Subsystem: "aclog", Name: name, Help: help},
			func() float64 { return v(p.Snapshot()) })
	}
	reg.MustRegister(
		counter("packets_total", "Packets captured.", func(s Snapshot) float64 { return float64(s.Source.Packets) }),
		counter("bytes_total", "Bytes captured.", func(s Snapshot) float64 { return float64(s.Source.Bytes) }),
		counter("decoded_total", "Packets decoded to TCP or UDP.", func(s Snapshot) float64 { return float64(s.Engine.Decoded) }),
		counter("kernel_dropped_total", "Packets the kernel dropped: its capture buffer was full (aclog fell behind).", func(s Snapshot) float64 {
			return float64(s.Source.KernelDropped)
		}),
		counter("if_dropped_total", "Packets the interface or its driver dropped before the kernel saw them.", func(s Snapshot) float64 {
			return float64(s.Source.InterfaceDropped)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "acstore", Subsystem: "aclog", Name: "packets_per_second",
			Help: "Packets captured per second over about the last second."}, func() float64 { return p.Snapshot().PacketRate }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "acstore", Subsystem: "aclog", Name: "kernel_dropped_per_second",
			Help: "Kernel drops per second over about the last second."}, func() float64 { return p.Snapshot().KernelDropRate }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "acstore", Subsystem: "aclog", Name: "if_dropped_per_second",
			Help: "Interface drops per second over about the last second."}, func() float64 { return p.Snapshot().IfDropRate }),
		counter("malformed_total", "Packets that could not be decoded.", func(s Snapshot) float64 { return float64(s.Engine.Malformed) }),
		counter("tcp_gaps_total", "Holes TCP reassembly skipped.", func(s Snapshot) float64 { return float64(s.Engine.TCPGaps) }),
		counter("row_errors_total", "Rows that could not be written.", func(s Snapshot) float64 { return float64(s.RowErrors) }),
		counter("write_errors_total", "Appends to a sync_file that failed (a full disk): the rows stay in memory and are retried.",
			func(s Snapshot) float64 { return float64(s.Spool.WriteErrors) }),
		counter("rows_dropped_total", "Rows dropped because their window already held its most in memory while its sync_file could not be written.",
			func(s Snapshot) float64 { return float64(s.Spool.Dropped) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "acstore", Subsystem: "aclog", Name: "rows_held",
			Help: "Rows in memory not yet in a sync_file (more while the disk refuses writes)."},
			func() float64 { return float64(p.Snapshot().Spool.HeldRows) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "acstore", Subsystem: "aclog", Name: "held_bytes",
			Help: "Bytes of those rows; at most 16 MiB per open window (4 frames of 4 MiB)."},
			func() float64 { return float64(p.Snapshot().Spool.HeldBytes) }),
		counter("x_files_total", "Contents stored in attachment bundles.", func(s Snapshot) float64 { return float64(s.Record.XFiles) }),
		counter("x_bytes_total", "Bytes stored in attachment bundles.", func(s Snapshot) float64 { return float64(s.Record.XBytes) }),
		counter("x_cut_file_total", "Contents not stored: over the per-file cap, or cut.", func(s Snapshot) float64 { return float64(s.Record.XCutFile) }),
		counter("x_cut_window_total", "Contents not stored: the window's bundle was full.", func(s Snapshot) float64 { return float64(s.Record.XCutWindow) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "acstore", Subsystem: "aclog", Name: "load_paused",
			Help: "1 while load_files are paused because loader is behind."}, func() float64 {
			if p.Snapshot().Spool.LoadPaused {
				return 1
			}
			return 0
		}),
	)
	reduced := prometheus.NewDesc("acstore_aclog_reduced_rows_total", "Rows the log reduction dropped or folded, by rule.", []string{"rule"}, nil)
	reg.MustRegister(collectorFunc{desc: reduced, collect: func(ch chan<- prometheus.Metric) {
		for k, n := range p.Snapshot().Record.Reduced {
			ch <- prometheus.MustNewConstMetric(reduced, prometheus.CounterValue, float64(n), k)
		}
	}})
	rows := prometheus.NewDesc("acstore_aclog_rows_total", "Rows written, by table.", []string{"table"}, nil)
	reg.MustRegister(collectorFunc{desc: rows, collect: func(ch chan<- prometheus.Metric) {
		for l, n := range p.Snapshot().Spool.Rows {
			ch <- prometheus.MustNewConstMetric(rows, prometheus.CounterValue, float64(n), string(l))
		}
	}})
}

type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
