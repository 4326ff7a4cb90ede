package spool

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	appended    prometheus.Counter
	drained     prometheus.Counter
	replayed    prometheus.Counter
	dropped     prometheus.Counter
	torn        prometheus.Counter
	writeErrors prometheus.Counter
	full        prometheus.Gauge
	writable    prometheus.Gauge
	maxBytes    prometheus.Gauge
	// commit is the time of each group commit's write and fsync: the
	// disk's latency, which every acknowledgement waits for. Its count is
	// the number of group commits, so appended/count is the group size.
	commit prometheus.Histogram
	reg    prometheus.Registerer
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_spool_appended_readings_total", Help: "Readings made durable in the spool (and then acknowledged).",
		}),
		drained: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_spool_drained_readings_total", Help: "Readings that left the spool because InfluxDB accepted them or they were quarantined.",
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_spool_replayed_readings_total", Help: "Readings found in the spool at start-up, left by the previous run.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_spool_dropped_records_total", Help: "Spool records (group commits, each of many readings) lost to unreadable disk data after being acknowledged. Must stay 0.",
		}),
		torn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_spool_torn_records_total", Help: "Incomplete records cut from the end of the log after a crash; they were never acknowledged.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_spool_write_errors_total", Help: "Failed writes or fsyncs of the spool (disk full, permissions).",
		}),
		full: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "facmon_spool_full", Help: "1 while the spool is at its byte cap and acknowledgements are paused.",
		}),
		writable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "facmon_spool_writable", Help: "0 while the spool cannot be written and acknowledgements are paused.",
		}),
		maxBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "facmon_spool_max_bytes", Help: "The spool's byte cap.",
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "facmon_spool_commit_seconds",
			Help:    "Time to write and fsync one group commit of readings to the spool.",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1},
		}),
		reg: reg,
	}
	reg.MustRegister(m.appended, m.drained, m.replayed, m.dropped, m.torn, m.writeErrors, m.full, m.writable, m.maxBytes, m.commit)
	return m
}

// collect registers the gauges computed from the spool's state on scrape.
func (m *metrics) collect(s *Spool) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "facmon_spool_bytes", Help: "Line-protocol bytes waiting in the spool.",
		}, func() float64 { return float64(s.Stats().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "facmon_spool_readings", Help: "Readings waiting in the spool.",
		}, func() float64 { return float64(s.Stats().Readings) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "facmon_spool_records", Help: "Log entries (group commits) waiting in the spool.",
		}, func() float64 { return float64(s.Stats().Entries) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "facmon_spool_oldest_record_age_seconds", Help: "Age of the oldest reading waiting in the spool; 0 when empty.",
		}, func() float64 { return s.Stats().OldestAge.Seconds() }),
	)
}
