package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "ferry"

// Results of a bump cycle (label result of ferry_bump_cycles_total).
const (
	ResultSuccess = "success" // the cycle completed and nothing in it failed
	ResultFailed  = "failed"  // the cycle completed, but a policy, a file or a group failed
	ResultError   = "error"   // the cycle did not complete
)

// prActions are the group actions counted by ferry_pull_requests_total.
var prActions = []string{"created", "updated", "closed", "unchanged"}

// Metrics are Ferry's Prometheus metrics, on a registry of their own (with
// the Go runtime and process collectors) rather than the global default.
// Every method is safe for concurrent use and a no-op on a nil *Metrics.
type Metrics struct {
	reg *prometheus.Registry

	buildInfo        *prometheus.GaugeVec
	registryRequests *prometheus.CounterVec
	registryErrors   *prometheus.CounterVec
	tagsSeen         *prometheus.GaugeVec
	unverified       *prometheus.GaugeVec
	pullRequests     *prometheus.CounterVec
	bumpCycles       *prometheus.CounterVec
	bumpDuration     *prometheus.HistogramVec
	lastBumpSuccess  *prometheus.GaugeVec
	syncs            *prometheus.CounterVec
	syncDuration     *prometheus.HistogramVec
	drift            *prometheus.CounterVec
	holds            *prometheus.GaugeVec
	webhooks         *prometheus.CounterVec
}

// NewMetrics creates the metrics and their registry.
func NewMetrics() *Metrics {
	long := prometheus.ExponentialBuckets(0.1, 2, 12) // 0.1s … 205s
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m := &Metrics{
		reg: reg,
		buildInfo: gauge(reg, "build_info",
			"Always 1; the version label is Ferry's version.",
			"version"),
		registryRequests: counter(reg, "registry_requests_total",
			"Registry HTTP requests by host and status code (\"error\" when no response), retries included.",
			"registry", "code"),
		registryErrors: counter(reg, "registry_errors_total",
			"Registry requests that failed: no response, or a 4xx/5xx other than the 401 of an auth challenge.",
			"registry"),
		unverified: gauge(reg, "unverified_candidates",
			"Candidate tags newer than the current ones that a policy's spec.verify skipped in the repository's last cycle, by reason (unsigned, wrong-key, identity-mismatch, digest-mismatch, tlog-missing, untrusted, invalid).",
			"repo", "policy", "reason"),
		tagsSeen: gauge(reg, "tags_seen",
			"Tags the registry listed for a policy's image in the repository's last cycle.",
			"repo", "policy"),
		pullRequests: counter(reg, "pull_requests_total",
			"Pull-request writes by action (created, updated, closed, unchanged).",
			"action"),
		bumpCycles: counter(reg, "bump_cycles_total",
			"Bump cycles by repository and result (success, failed, error).",
			"repo", "result"),
		bumpDuration: histogram(reg, "bump_duration_seconds",
			"How long a repository's bump cycle took.", long,
			"repo"),
		lastBumpSuccess: gauge(reg, "last_successful_bump_timestamp_seconds",
			"Unix time of the end of the repository's last bump cycle that succeeded.",
			"repo"),
		syncs: counter(reg, "sync_total",
			"App syncs by app and result.",
			"app", "result"),
		syncDuration: histogram(reg, "sync_duration_seconds",
			"How long an app sync took.", long,
			"app"),
		drift: counter(reg, "drift_detected_total",
			"Syncs that found the cluster differing from git.",
			"app"),
		holds: gauge(reg, "holds_active",
			"References held back by rollbacks in the repository's last bump cycle.",
			"repo"),
		webhooks: counter(reg, "webhooks_total",
			"Webhook deliveries by source and result (accepted, duplicate, ignored, ping, unauthorized, invalid, too_large, unsupported_media_type, disabled, standby).",
			"source", "result"),
	}
	// Series that rate() and absent() alerts rely on exist from the start
	// (a repository's cycles from AddRepo on).
	for _, a := range prActions {
		m.pullRequests.WithLabelValues(a)
	}
	return m
}

// gauge creates ferry_<name>, a gauge with the labels, on reg.
func gauge(reg *prometheus.Registry, name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	reg.MustRegister(v)
	return v
}

// counter creates ferry_<name>, a counter with the labels, on reg.
func counter(reg *prometheus.Registry, name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	reg.MustRegister(v)
	return v
}

// histogram creates ferry_<name>, a histogram with the buckets and labels,
// on reg.
func histogram(reg *prometheus.Registry, name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	reg.MustRegister(v)
	return v
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

// AddRepo creates the series of a repository's cycles, zero, so that
// rate() and absent() alerts see them before its first cycle.
func (m *Metrics) AddRepo(repo string) {
	if m == nil {
		return
	}
	for _, r := range []string{ResultSuccess, ResultFailed, ResultError} {
		m.bumpCycles.WithLabelValues(repo, r)
	}
}

// Cycle is what one bump cycle of a repository did, as the metrics count
// it.
type Cycle struct {
	Repo     string        // the repository, as shown (credentials removed)
	Duration time.Duration // how long it took
	// Completed: the cycle ran to its end; Failed: it did, but a policy,
	// a file or a group failed.
	Completed, Failed bool
	Actions           []string       // each pull-request group's action
	Holds             int            // references held back by rollbacks
	TagsSeen          map[string]int // tags listed, by policy name
	// Unverified counts the candidate tags spec.verify skipped, by policy
	// and reason (unsigned, wrong-key, ...).
	Unverified map[string]map[string]int
}

// ObserveCycle records a repository's bump cycle: its result, the
// pull-request actions of its groups, the tags its scan saw and the holds
// in force. The repository's tag counts of earlier cycles are replaced, so
// removed policies disappear.
func (m *Metrics) ObserveCycle(c Cycle) {
	if m == nil {
		return
	}
	m.bumpDuration.WithLabelValues(c.Repo).Observe(c.Duration.Seconds())
	switch {
	case !c.Completed:
		m.bumpCycles.WithLabelValues(c.Repo, ResultError).Inc()
		return
	case c.Failed:
		m.bumpCycles.WithLabelValues(c.Repo, ResultFailed).Inc()
	default:
		m.bumpCycles.WithLabelValues(c.Repo, ResultSuccess).Inc()
		m.lastBumpSuccess.WithLabelValues(c.Repo).SetToCurrentTime()
	}
	for _, action := range c.Actions {
		for _, a := range prActions {
			if action == a {
				m.pullRequests.WithLabelValues(a).Inc()
			}
		}
	}
	m.holds.WithLabelValues(c.Repo).Set(float64(c.Holds))
	m.tagsSeen.DeletePartialMatch(prometheus.Labels{"repo": c.Repo})
	m.unverified.DeletePartialMatch(prometheus.Labels{"repo": c.Repo})
	for policy, reasons := range c.Unverified {
		for reason, n := range reasons {
			m.unverified.WithLabelValues(c.Repo, policy, reason).Set(float64(n))
		}
	}
	for policy, n := range c.TagsSeen {
		m.tagsSeen.WithLabelValues(c.Repo, policy).Set(float64(n))
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
