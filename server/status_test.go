package server

import (
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ref(file string, line int, object, current, wanted, status, why string) ReferenceStatus {
	return ReferenceStatus{File: file, Line: line, Object: object, Current: current, Wanted: wanted, Status: status, Why: why}
}

// fixtureSnapshot has something in every section of the page, two
// repositories, and an HTML payload in every user-controlled string it can.
func fixtureSnapshot() Snapshot {
	pushed := testNow.Add(-26 * time.Hour)
	last := &CycleInfo{Time: testNow.Add(-3 * time.Minute), Duration: 12400 * time.Millisecond, Trigger: "ecr: pushed …/api:release.20240301"}
	return Snapshot{
		Version:   "v0.9.0",
		Started:   testNow.Add(-50 * time.Hour),
		LastCycle: last,
		Repos: []RepoStatus{{
			URL: "https://github.com/acme/deploy.git", Branch: "main", Mode: "pull-request", BaseCommit: headSHA,
			LastCycle: last, NextCycle: testNow.Add(2 * time.Minute), Failed: true,
			Scan: &ScanStatus{Files: 42, Parsed: 17,
				Policies: []PolicyStatus{
					{Name: "web", Image: "ghcr.io/acme/web", Strategy: "semver", Tag: "1.4.2",
						Digest: "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270", PushedAt: pushed,
						TagsSeen: 31, TagsMatched: 12,
						Skipped: []SkippedTag{{Tag: "1.5.0", Reason: "unverified: no signature found"}},
						References: []ReferenceStatus{
							ref("apps/web/deployment.yaml", 21, "Deployment/prod/web", "1.4.1", "1.4.2", "update", ""),
							ref("apps/web/staging.yaml", 19, "Deployment/staging/web", "1.4.2", "1.4.2", "current", ""),
						}},
					{Name: "api", Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/api", Strategy: "timestamp", Tag: "release.20240301",
						TagsSeen: 80, TagsMatched: 80,
						References: []ReferenceStatus{
							ref("apps/api/deployment.yaml", 30, "Deployment/prod/api", "release.20240227", "release.20240301", "held", "rolled back to release.20240227 by Bob; only tags newer than release.20240229 are proposed"),
						}},
					{Name: "<script>alert('policy')</script>", Image: "docker.io/library/nginx", Strategy: "semver",
						Error: "listing tags: 429 Too Many Requests <b>bold</b>", References: []ReferenceStatus{}},
				},
				FileErrors: []FileErrorStatus{{File: "apps/broken.yaml", Line: 3, Policies: []string{"web"}, Error: "yaml: mapping values are not allowed here"}},
			},
			Groups: []GroupStatus{
				{Group: "web", Branch: "ferry/web", Action: "created", PullNumber: 128, PullURL: "https://github.com/acme/deploy/pull/128",
					Title: "Bump web to 1.4.2", Commit: mergeSHA, Took: 1800 * time.Millisecond,
					Changes: []ChangeStatus{{File: "apps/web/deployment.yaml", Line: 21, From: "1.4.1", To: "1.4.2"}}},
				{Group: "api", Branch: "ferry/api", Action: "up-to-date", Changes: []ChangeStatus{}, Holds: []HoldStatus{{File: "apps/api/deployment.yaml", Tag: "release.20240229", By: "Bob"}}},
				{Group: "nginx", Branch: "ferry/nginx", Action: "skipped", PullNumber: 7, PullURL: "javascript:alert('pr')", Changes: []ChangeStatus{},
					Error: "left as it is because this cycle could not complete it: policy nginx: 429"},
			},
		}, {
			URL: "https://github.com/acme/platform.git", Branch: "release", Mode: "branch",
			LastCycle: &CycleInfo{Time: testNow.Add(-time.Minute), Error: "cloning: authentication required"},
		}},
		Apps: []AppStatus{
			{Name: "web", Repo: "https://github.com/acme/deploy.git", Revision: headSHA, Result: "synced", Time: testNow.Add(-90 * time.Second), Message: "12 objects applied"},
			{Name: "api", Revision: mergeSHA, Result: "synced", Time: testNow.Add(-10 * time.Minute), Pinned: true, Message: "pinned by a rollback: <img src=x onerror=alert(1)>"},
			{Name: "worker", Revision: headSHA, Synced: mergeSHA, Result: "failed", Reason: "Rejected", Time: testNow.Add(-30 * time.Second), Message: "Deployment/worker: spec.replicas: Invalid value: -1"},
		},
		Events: []EventRecord{
			{Time: testNow.Add(-20 * time.Second), Source: "github", Summary: "pull request #127 (ferry/web) merged as e5bd3914e2e5"},
			{Time: testNow.Add(-3 * time.Minute), Source: "ecr", Summary: "pushed 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:release.20240301"},
			{Time: testNow.Add(-4 * time.Minute), Source: "sync", Summary: "worker failed: <script>x</script>", Error: true},
		},
	}
}

func TestStatusPage(t *testing.T) {
	snap := fixtureSnapshot()
	s, _ := newTestServer(t, func(o *Options) { o.Status = func() Snapshot { return snap } })
	w := serve(t, s.Handler(), request{method: http.MethodGet, path: "/"})
	if w.Code != http.StatusOK {
		t.Fatalf("GET / = %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	page := w.Body.String()
	if path := os.Getenv("FERRY_STATUS_HTML"); path != "" { // for a look in a browser
		if err := os.WriteFile(path, w.Body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		// header and repositories
		"v0.9.0", "2 repositories", "https://github.com/acme/deploy.git", "2024-03-01 11:57:00Z", "3m ago", "took 12.4s", "pull-request", "Next cycle in 2m",
		`badge warn">partial failure`, "https://github.com/acme/platform.git", "branch <code>release</code>",
		"The last cycle failed:", "cloning: authentication required", `badge err">failed`, "passed over: <code>1.5.0</code>", "unverified: no signature found", "Rejected", "cluster at <code title=\"" + mergeSHA + "\">" + mergeSHA[:12],
		// policies
		"<h3>Policies", "ghcr.io/acme/web", "semver", "1.4.2", "sha256:5b0bcabd1ed2", "pushed 26h00m ago", "12 of 31 tags match",
		"apps/web/deployment.yaml:21", "Deployment/prod/web", "1.4.1", `badge info">update`, `badge ok">current`,
		"release.20240301", ">held<", "apps/broken.yaml:3", "yaml: mapping values",
		// pull requests
		"<h3>Pull requests", "ferry/web", `href="https://github.com/acme/deploy/pull/128"`, "#128", "Bump web to 1.4.2", `badge ok">created`,
		"up-to-date", "rolled back by Bob", "left as it is",
		// apps
		"<h2>Apps", "worker", "spec.replicas: Invalid value: -1", ">pinned<", headSHA[:12], `badge err">failed`,
		// events
		"<h2>Recent events", "pull request #127 (ferry/web) merged", "20s ago",
		// counts
		"<b>3</b><span>policies</span>", "<b>1</b><span>updates pending</span>", "<b>1</b><span>held by rollbacks</span>",
		"<b>2</b><span>open pull requests</span>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the status page lacks %q", want)
		}
	}
	// User-controlled strings are escaped, and unsafe URLs neutralised.
	for _, bad := range []string{"<script>", "<b>bold</b>", "<img src=x", "javascript:alert"} {
		if strings.Contains(page, bad) {
			t.Errorf("the status page holds unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#39;policy&#39;)&lt;/script&gt;", "&lt;b&gt;bold&lt;/b&gt;", "&lt;img src=x onerror=alert(1)&gt;", "#ZgotmplZ"} {
		if !strings.Contains(page, want) {
			t.Errorf("the status page lacks the escaped %q", want)
		}
	}
}

func TestStatusPageBeforeTheFirstCycle(t *testing.T) {
	s, _ := newTestServer(t, nil)
	s.Events().Add("startup", "Ferry started", false)
	w := serve(t, s.Handler(), request{method: http.MethodGet, path: "/"})
	if w.Code != http.StatusOK {
		t.Fatalf("GET / = %d %s", w.Code, w.Body)
	}
	for _, want := range []string{"No bump cycle has run yet.", "No repositories.", "No apps.", "Ferry started", "version unknown"} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("the status page lacks %q", want)
		}
	}
}

func TestStatusPageShowsAFailedCycle(t *testing.T) {
	s, _ := newTestServer(t, func(o *Options) {
		o.Status = func() Snapshot {
			return Snapshot{Repos: []RepoStatus{{URL: "https://github.com/acme/deploy", Branch: "main",
				LastCycle: &CycleInfo{Time: testNow.Add(-time.Minute), Error: "cloning: authentication required"}}}}
		}
	})
	page := serve(t, s.Handler(), request{method: http.MethodGet, path: "/"}).Body.String()
	for _, want := range []string{"The last cycle failed:", "cloning: authentication required", `badge err">failed`} {
		if !strings.Contains(page, want) {
			t.Errorf("the status page lacks %q", want)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	snap := fixtureSnapshot()
	s, _ := newTestServer(t, func(o *Options) { o.Status = func() Snapshot { return snap } })
	w := serve(t, s.Handler(), request{method: http.MethodGet, path: "/status.json"})
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /status.json = %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	if !strings.Contains(w.Body.String(), `"durationSeconds":12.4`) {
		t.Errorf("status.json lacks the cycle duration in seconds: %.300s", w.Body)
	}
	var got Snapshot
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.LastCycle, snap.LastCycle) {
		t.Errorf("LastCycle = %+v, want %+v", got.LastCycle, snap.LastCycle)
	}
	if !reflect.DeepEqual(got.Apps, snap.Apps) || !reflect.DeepEqual(got.Events, snap.Events) {
		t.Errorf("Apps or Events differ:\n%+v\n%+v", got.Apps, got.Events)
	}
	if got.Version != "v0.9.0" || !reflect.DeepEqual(got.Repos, snap.Repos) {
		t.Errorf("status.json round trip lost data:\n%+v\nwant\n%+v", got.Repos, snap.Repos)
	}

	// With no Status func: the server's own start time and events, and
	// empty lists rather than nulls.
	s, _ = newTestServer(t, nil)
	body := serve(t, s.Handler(), request{method: http.MethodGet, path: "/status.json"}).Body.String()
	for _, want := range []string{`"started":"2024-03-01T12:00:00Z"`, `"repos":[]`, `"apps":[]`, `"events":[]`} {
		if !strings.Contains(body, want) {
			t.Errorf("empty status.json %s lacks %s", body, want)
		}
	}
}

func TestTone(t *testing.T) {
	for in, want := range map[string]string{
		"synced": "ok", "update": "info", "held": "warn", "failed": "err", "Blocked": "err", "whatever": "muted",
	} {
		if got := tone(in); got != want {
			t.Errorf("tone(%q) = %q, want %q", in, got, want)
		}
	}
}
