// Package metrics holds brokerd's Prometheus metrics. Components report
// through the small methods here so they never touch prometheus types.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one registry with every brokerd metric. A nil *Metrics is
// valid and records nothing, so components need no checks.
type Metrics struct {
	reg         *prometheus.Registry
	commands    *prometheus.HistogramVec
	stateWrites prometheus.Counter
	connections *prometheus.GaugeVec
	queueDepth  prometheus.Histogram
	dropped     *prometheus.CounterVec
	batchSize   prometheus.Histogram
	batchTime   prometheus.Histogram
	batchErrors prometheus.Counter
}

// New creates the registry, including Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.commands = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "brokerd_command_duration_seconds",
		Help:    "Socket.IO/REST command latency by command name and outcome (ok, error, denied).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"command", "outcome"})
	m.stateWrites = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "brokerd_state_writes_total", Help: "Committed state writes.",
	})
	m.connections = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "brokerd_connections", Help: "Open Socket.IO connections by transport and Engine.IO version.",
	}, []string{"transport", "eio"})
	m.queueDepth = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "brokerd_fanout_queue_depth",
		Help:    "Frames a connection's writer took in one batch (how far it was behind).",
		Buckets: prometheus.ExponentialBuckets(1, 4, 8),
	})
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "brokerd_fanout_dropped_total", Help: "Events not delivered: coalesced to a newer value, or the client was disconnected as too slow.",
	}, []string{"reason"})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "brokerd_commit_batch_size", Help: "Writes per group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 13),
	})
	m.batchTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "brokerd_commit_duration_seconds", Help: "Duration of one group commit (write + fsync).",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
	})
	m.batchErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "brokerd_commit_errors_total", Help: "Group commits the disk refused.",
	})
	m.reg.MustRegister(m.commands, m.stateWrites, m.connections, m.queueDepth, m.dropped,
		m.batchSize, m.batchTime, m.batchErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Command records one command.
func (m *Metrics) Command(name, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.commands.WithLabelValues(name, outcome).Observe(d.Seconds())
}

// StateWrite counts one committed state write.
func (m *Metrics) StateWrite() {
	if m != nil {
		m.stateWrites.Inc()
	}
}

// Connection adds delta (+1 / -1) to the connections of a transport/EIO pair.
func (m *Metrics) Connection(transport string, eio int, delta float64) {
	if m == nil {
		return
	}
	v := "4"
	if eio == 3 {
		v = "3"
	}
	m.connections.WithLabelValues(transport, v).Add(delta)
}

// QueueBatch records how many frames a writer took at once.
func (m *Metrics) QueueBatch(n int) {
	if m != nil {
		m.queueDepth.Observe(float64(n))
	}
}

// Dropped counts undelivered events ("coalesced" or "slow_consumer").
func (m *Metrics) Dropped(reason string, n int) {
	if m != nil && n > 0 {
		m.dropped.WithLabelValues(reason).Add(float64(n))
	}
}

// Commit records one group commit.
func (m *Metrics) Commit(size int, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.batchSize.Observe(float64(size))
	m.batchTime.Observe(d.Seconds())
	if err != nil {
		m.batchErrors.Inc()
	}
}
