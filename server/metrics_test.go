package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrygitops/ferry/bot"
)

func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	s, _ := newTestServer(t, func(o *Options) { o.Metrics = m })
	if s.Metrics() != m {
		t.Fatal("Server.Metrics is not Options.Metrics")
	}

	m.SetVersion("v1.2.3")
	scan := &bot.Report{Policies: []bot.PolicyReport{{Name: "web", TagsSeen: 12}, {Name: "api", TagsSeen: 3}}}
	m.ObserveScan(scan, 1500*time.Millisecond)
	m.ObserveBump(&bot.BumpResult{
		Scan: &bot.Report{Policies: []bot.PolicyReport{{Name: "web", TagsSeen: 13, Verify: &bot.VerifyReport{Rejected: []bot.Rejection{
			{Tag: "v3", Reason: "unsigned"}, {Tag: "v2", Reason: "unsigned"}, {Tag: "v1.9", Reason: "wrong-key"},
		}}}}},
		Groups: []bot.GroupResult{{Action: "created"}, {Action: "updated"}, {Action: "up-to-date"}, {Action: "created"}},
		Holds:  []bot.Hold{{Policy: "web"}, {Policy: "api"}},
	}, 3*time.Second)
	m.ObserveBump(&bot.BumpResult{Groups: []bot.GroupResult{{Action: "skipped", Error: "registry down"}}, Holds: []bot.Hold{{Policy: "web"}}}, time.Second)
	m.ObserveBump(nil, time.Second)
	m.RegistryRequest("ghcr.io", 200, nil)
	m.RegistryRequest("ghcr.io", 401, nil) // an auth challenge
	m.RegistryRequest("ghcr.io", 404, nil)
	m.RegistryRequest("ghcr.io", 0, errors.New("connection refused"))
	m.ObserveSync("web", "synced", 2*time.Second, true)
	m.ObserveSync("web", "failed", time.Second, false)
	// A webhook counts itself.
	serve(t, s.Handler(), ecrRequest(ecrBody(nil), "ecr-token"))
	serve(t, s.Handler(), ecrRequest(ecrBody(nil), "bad"))

	w := serve(t, s.Handler(), request{method: http.MethodGet, path: "/metrics"})
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`ferry_build_info{version="v1.2.3"} 1`,
		`ferry_scans_total 1`,
		`ferry_scan_duration_seconds_count 1`,
		`ferry_scan_duration_seconds_sum 1.5`,
		`ferry_tags_seen{policy="web"} 13`,
		`ferry_unverified_candidates{policy="web",reason="unsigned"} 2`,
		`ferry_unverified_candidates{policy="web",reason="wrong-key"} 1`,
		`ferry_bump_cycles_total{result="success"} 1`,
		`ferry_bump_cycles_total{result="failed"} 1`,
		`ferry_bump_cycles_total{result="error"} 1`,
		`ferry_bump_duration_seconds_count 3`,
		`ferry_pull_requests_total{action="created"} 2`,
		`ferry_pull_requests_total{action="updated"} 1`,
		`ferry_pull_requests_total{action="closed"} 0`,
		`ferry_holds_active 1`,
		`ferry_registry_requests_total{code="200",registry="ghcr.io"} 1`,
		`ferry_registry_requests_total{code="401",registry="ghcr.io"} 1`,
		`ferry_registry_requests_total{code="error",registry="ghcr.io"} 1`,
		`ferry_registry_errors_total{registry="ghcr.io"} 2`,
		`ferry_sync_total{app="web",result="synced"} 1`,
		`ferry_sync_total{app="web",result="failed"} 1`,
		`ferry_sync_duration_seconds_count{app="web"} 2`,
		`ferry_drift_detected_total{app="web"} 1`,
		`ferry_webhooks_total{result="accepted",source="ecr"} 1`,
		`ferry_webhooks_total{result="unauthorized",source="ecr"} 1`,
		`ferry_last_successful_bump_timestamp_seconds `,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The policy the last scan no longer has is gone.
	if strings.Contains(body, `ferry_tags_seen{policy="api"}`) {
		t.Error("ferry_tags_seen still has a removed policy")
	}
	// Nothing went to the global registry.
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "ferry_") {
			t.Errorf("%s is registered globally", mf.GetName())
		}
	}
}

func TestMetricsNilIsANoOp(t *testing.T) {
	var m *Metrics
	m.ObserveScan(nil, time.Second)
	m.ObserveBump(nil, time.Second)
	m.RegistryRequest("h", 500, nil)
	m.ObserveSync("a", "failed", time.Second, true)
	m.Webhook("ecr", "accepted")
	m.SetVersion("x")
	if m.Registry() != nil {
		t.Fatal("nil Metrics has a registry")
	}
}

// The helper fits registry.Transport's hook.
var _ func(string, int, error) = (*Metrics)(nil).RegistryRequest
