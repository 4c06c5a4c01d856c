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
// Event sets in motion (see Event).
package server
