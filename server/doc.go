// Package server is the HTTP side of `ferry run`: the long-running
// Deployment's health and readiness probes, its Prometheus metrics, the
// webhooks that let it react to registry pushes and GitHub merges within
// seconds, and a read-only status page.
//
// Endpoints:
//
//	GET  /healthz            200 "ok" while the process serves
//	GET  /readyz             200 when Options.Ready reports true, else 503
//	GET  /metrics            Prometheus exposition of Metrics' own registry
//	GET  /                   server-rendered HTML status page
//	GET  /status.json        the same Snapshot as JSON
//	POST /webhooks/ecr       Amazon EventBridge "ECR Image Action" events (API destination)
//	POST /webhooks/registry  Docker distribution (registry:2) notification envelopes
//	POST /webhooks/github    GitHub push and pull_request deliveries
//
// A webhook whose secret is not configured is disabled and answers 404.
// Each accepted webhook becomes one or more Events handed to
// Options.Trigger; the server does no work of its own beyond verifying,
// decoding and de-duplicating deliveries, so the integrator decides what an
// Event concerns (Options.Filter: ignored events are answered 202 with the
// reason) and sets in motion (see Event). A replica that does not lead
// (Options.Standby) answers deliveries 503 with Retry-After.
//
// # The status page and /status.json
//
// The page and /status.json show a Snapshot: a view model of plain values
// the integrator builds from its results, so the page and the loop change
// apart. /status.json is that Snapshot; absent fields have no value yet:
//
//	{
//	  "version": "v0.1.0", "started": "2024-03-01T12:00:00Z",
//	  "standby": true,                       // leader election on, another replica leads
//	  "lastCycle": {...},                    // the most recent cycle of any repository
//	  "repos": [{
//	    "url": "https://github.com/acme/manifests", "branch": "main", "mode": "pull-request",
//	    "baseCommit": "6113728f27ae…",
//	    "lastCycle": {"time": "…", "durationSeconds": 1.8, "trigger": "registry: pushed …", "error": "…"},
//	    "failed": true,                      // the last cycle completed, but something in it failed
//	    "scan": {"files": 42, "parsed": 17,
//	      "policies": [{"name": "web", "image": "ghcr.io/acme/web", "strategy": "semver",
//	        "tag": "1.4.2", "digest": "sha256:…", "pushedAt": "…", "tagsSeen": 31, "tagsMatched": 12, "error": "…",
//	        "references": [{"file": "apps/web/deployment.yaml", "line": 21, "object": "Deployment/prod/web",
//	          "current": "1.4.1", "wanted": "1.4.2", "status": "update", "why": "…"}]}],
//	      "fileErrors": [{"file": "…", "line": 3, "error": "…", "policies": ["web"]}]},
//	    "groups": [{"group": "web", "branch": "ferry/web", "commit": "…", "action": "created",
//	      "tookSeconds": 1.8, "pullNumber": 128, "pullURL": "…", "title": "…",
//	      "changes": [{"file": "…", "line": 21, "from": "1.4.1", "to": "1.4.2"}],
//	      "holds": [{"file": "…", "tag": "…", "by": "…"}], "error": "…"}]
//	  }],
//	  "apps": [{"name": "web", "repo": "https://github.com/acme/manifests", "revision": "…",
//	    "result": "Succeeded", "time": "…", "pinned": true, "message": "…"}],
//	  "events": [{"time": "…", "source": "github", "summary": "…", "error": true}]   // newest first
//	}
package server
