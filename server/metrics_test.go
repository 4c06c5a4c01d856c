package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	s, _ := newTestServer(t, func(o *Options) { o.Metrics = m })
	if s.Metrics() != m {
		t.Fatal("Server.Metrics is not Options.Metrics")
	}

	m.SetVersion("v1.2.3")
	const repo, other = "https://github.com/acme/one", "https://github.com/acme/two"
	m.AddRepo(repo)
	m.ObserveCycle(Cycle{Repo: repo, Duration: 1500 * time.Millisecond, Completed: true, TagsSeen: map[string]int{"web": 12, "api": 3}})
	m.ObserveCycle(Cycle{Repo: repo, Duration: 3 * time.Second, Completed: true,
		Actions: []string{"created", "updated", "up-to-date", "created"}, Holds: 2, TagsSeen: map[string]int{"web": 13}})
	m.ObserveCycle(Cycle{Repo: repo, Duration: time.Second, Completed: true, Failed: true, Actions: []string{"skipped"}, Holds: 1, TagsSeen: map[string]int{"web": 13}})
	m.ObserveCycle(Cycle{Repo: repo, Duration: time.Second})
	m.ObserveCycle(Cycle{Repo: other, Duration: time.Second, Completed: true, TagsSeen: map[string]int{"api": 7}})
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
		`ferry_tags_seen{policy="web",repo="https://github.com/acme/one"} 13`,
		`ferry_tags_seen{policy="api",repo="https://github.com/acme/two"} 7`,
		`ferry_bump_cycles_total{repo="https://github.com/acme/one",result="success"} 2`,
		`ferry_bump_cycles_total{repo="https://github.com/acme/one",result="failed"} 1`,
		`ferry_bump_cycles_total{repo="https://github.com/acme/one",result="error"} 1`,
		`ferry_bump_cycles_total{repo="https://github.com/acme/two",result="success"} 1`,
		`ferry_bump_duration_seconds_count{repo="https://github.com/acme/one"} 4`,
		`ferry_bump_duration_seconds_sum{repo="https://github.com/acme/one"} 6.5`,
		`ferry_pull_requests_total{action="created"} 2`,
		`ferry_pull_requests_total{action="updated"} 1`,
		`ferry_pull_requests_total{action="closed"} 0`,
		`ferry_holds_active{repo="https://github.com/acme/one"} 1`,
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
		`ferry_last_successful_bump_timestamp_seconds{repo="https://github.com/acme/one"} `,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The policy the repository's last scan no longer has is gone, the
	// other repository's is not.
	if strings.Contains(body, `ferry_tags_seen{policy="api",repo="https://github.com/acme/one"}`) {
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
	m.AddRepo("r")
	m.ObserveCycle(Cycle{Repo: "r"})
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
