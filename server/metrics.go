package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferrygitops/ferry/bot"
)

const namespace = "ferry"

// Results of a bump cycle (label result of ferry_bump_cycles_total).
const (
	ResultSuccess = "success" // the cycle completed and nothing in it failed
	ResultFailed  = "failed"  // the cycle completed, but a policy, a file or a group failed
	ResultError   = "error"   // the cycle did not complete (BumpResult is nil)
)

// prActions are the group actions counted by ferry_pull_requests_total.
var prActions = []string{"created", "updated", "closed", "unchanged"}

// Metrics are Ferry's Prometheus metrics, on a registry of their own (with
// the Go runtime and process collectors) rather than the global default.
// Every method is safe for concurrent use and a no-op on a nil *Metrics.
type Metrics struct {
	reg *prometheus.Registry

	buildInfo        *prometheus.GaugeVec
	scans            prometheus.Counter
	scanDuration     prometheus.Histogram
	registryRequests *prometheus.CounterVec
	registryErrors   *prometheus.CounterVec
	tagsSeen         *prometheus.GaugeVec
	unverified       *prometheus.GaugeVec
	pullRequests     *prometheus.CounterVec
	bumpCycles       *prometheus.CounterVec
	bumpDuration     prometheus.Histogram
	lastBumpSuccess  prometheus.Gauge
	syncs            *prometheus.CounterVec
	syncDuration     *prometheus.HistogramVec
	drift            *prometheus.CounterVec
	holds            prometheus.Gauge
	webhooks         *prometheus.CounterVec
}

// NewMetrics creates the metrics and their registry.
func NewMetrics() *Metrics {
	long := prometheus.ExponentialBuckets(0.1, 2, 12) // 0.1s … 205s
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help: "Always 1; the version label is Ferry's version.",
		}, []string{"version"}),
		scans: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "scans_total",
			Help: "Scans run outside bump cycles (ObserveScan).",
		}),
		scanDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "scan_duration_seconds",
			Help: "How long a scan took.", Buckets: long,
		}),
		registryRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "registry_requests_total",
			Help: "Registry HTTP requests by host and status code (\"error\" when no response), retries included.",
		}, []string{"registry", "code"}),
		registryErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "registry_errors_total",
			Help: "Registry requests that failed: no response, or a 4xx/5xx other than the 401 of an auth challenge.",
		}, []string{"registry"}),
		unverified: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "unverified_candidates",
			Help: "Candidate tags newer than the current ones that a policy's spec.verify skipped in the last scan, by reason (unsigned, wrong-key, identity-mismatch, digest-mismatch, tlog-missing, untrusted, invalid).",
		}, []string{"policy", "reason"}),
		tagsSeen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "tags_seen",
			Help: "Tags the registry listed for a policy's image in the last scan.",
		}, []string{"policy"}),
		pullRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "pull_requests_total",
			Help: "Pull-request writes by action (created, updated, closed, unchanged).",
		}, []string{"action"}),
		bumpCycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "bump_cycles_total",
			Help: "Bump cycles by result (success, failed, error).",
		}, []string{"result"}),
		bumpDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "bump_duration_seconds",
			Help: "How long a bump cycle took.", Buckets: long,
		}),
		lastBumpSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_successful_bump_timestamp_seconds",
			Help: "Unix time of the end of the last bump cycle that succeeded.",
		}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sync_total",
			Help: "App syncs by app and result.",
		}, []string{"app", "result"}),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "sync_duration_seconds",
			Help: "How long an app sync took.", Buckets: long,
		}, []string{"app"}),
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "drift_detected_total",
			Help: "Syncs that found the cluster differing from git.",
		}, []string{"app"}),
		holds: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "holds_active",
			Help: "References held back by rollbacks in the last bump cycle.",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "webhooks_total",
			Help: "Webhook deliveries by source and result (accepted, duplicate, ignored, ping, unauthorized, invalid, too_large, unsupported_media_type, disabled).",
		}, []string{"source", "result"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.buildInfo, m.scans, m.scanDuration, m.registryRequests, m.registryErrors,
		m.tagsSeen, m.unverified, m.pullRequests, m.bumpCycles, m.bumpDuration, m.lastBumpSuccess,
		m.syncs, m.syncDuration, m.drift, m.holds, m.webhooks,
	)
	// Series that rate() and absent() alerts rely on exist from the start.
	for _, r := range []string{ResultSuccess, ResultFailed, ResultError} {
		m.bumpCycles.WithLabelValues(r)
	}
	for _, a := range prActions {
		m.pullRequests.WithLabelValues(a)
	}
	return m
}

// Registry is the metrics' registry, for registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// SetVersion sets ferry_build_info{version}.
func (m *Metrics) SetVersion(version string) {
	if m == nil {
		return
	}
	m.buildInfo.Reset()
	m.buildInfo.WithLabelValues(version).Set(1)
}

// ObserveScan records a scan run on its own (not part of a bump cycle):
// ferry_scans_total, its duration, and each policy's tag count. rep may be
// nil when the scan failed outright.
func (m *Metrics) ObserveScan(rep *bot.Report, d time.Duration) {
	if m == nil {
		return
	}
	m.scans.Inc()
	m.scanDuration.Observe(d.Seconds())
	m.setTags(rep)
}

// ObserveBump records a bump cycle that took d: its result (nil: the cycle
// did not complete), the pull-request actions of its groups, the tags its
// scan saw and the holds in force. It does not count the cycle's scan in
// ferry_scans_total.
func (m *Metrics) ObserveBump(res *bot.BumpResult, d time.Duration) {
	if m == nil {
		return
	}
	m.bumpDuration.Observe(d.Seconds())
	switch {
	case res == nil:
		m.bumpCycles.WithLabelValues(ResultError).Inc()
		return
	case res.Failed():
		m.bumpCycles.WithLabelValues(ResultFailed).Inc()
	default:
		m.bumpCycles.WithLabelValues(ResultSuccess).Inc()
		m.lastBumpSuccess.SetToCurrentTime()
	}
	for _, g := range res.Groups {
		for _, a := range prActions {
			if g.Action == a {
				m.pullRequests.WithLabelValues(a).Inc()
			}
		}
	}
	m.holds.Set(float64(len(res.Holds)))
	m.setTags(res.Scan)
}

// setTags replaces ferry_tags_seen with the policies of rep, so removed
// policies disappear.
func (m *Metrics) setTags(rep *bot.Report) {
	if rep == nil {
		return
	}
	m.tagsSeen.Reset()
	m.unverified.Reset()
	for _, p := range rep.Policies {
		m.tagsSeen.WithLabelValues(p.Name).Set(float64(p.TagsSeen))
		if p.Verify != nil {
			for _, r := range p.Verify.Rejected {
				m.unverified.WithLabelValues(p.Name, string(r.Reason)).Inc()
			}
		}
	}
}

// RegistryRequest records one registry HTTP attempt. Its signature is that
// of registry.Transport's OnRequest hook:
//
//	transport.OnRequest = metrics.RegistryRequest
func (m *Metrics) RegistryRequest(host string, status int, err error) {
	if m == nil {
		return
	}
	code := "error"
	if err == nil && status > 0 {
		code = strconv.Itoa(status)
	}
	m.registryRequests.WithLabelValues(host, code).Inc()
	// A 401 is how a registry starts its token dance: not an error.
	if err != nil || status == 0 || (status >= 400 && status != http.StatusUnauthorized) {
		m.registryErrors.WithLabelValues(host).Inc()
	}
}

// ObserveSync records one sync of app: its result ("synced", "failed",
// ...), how long it took, and whether it found drift.
func (m *Metrics) ObserveSync(app, result string, d time.Duration, drifted bool) {
	if m == nil {
		return
	}
	m.syncs.WithLabelValues(app, result).Inc()
	m.syncDuration.WithLabelValues(app).Observe(d.Seconds())
	if drifted {
		m.drift.WithLabelValues(app).Inc()
	}
}

// Webhook counts one webhook delivery from source with its result.
func (m *Metrics) Webhook(source, result string) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(source, result).Inc()
}
