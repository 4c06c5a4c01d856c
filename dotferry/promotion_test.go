package dotferry

import (
	"strings"
	"testing"
	"time"
)

const promoApps = `apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web-staging}
spec: {source: {path: overlays/staging}, destination: {namespace: web-staging}}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web-production}
spec: {source: {path: overlays/production}, destination: {namespace: web-production}}
---
`

func TestLoadPromotionAndRejection(t *testing.T) {
	set, err := Parse(".ferry/promote.yaml", []byte(promoApps+`apiVersion: ferry.dev/v1alpha1
kind: Promotion
metadata: {name: web}
spec:
  from: {app: web-staging}
  to: {app: web-production}
  soak: 30m
  verify:
    job: {template: verify/smoke.yaml, timeout: 5m}
  pullRequest: {labels: [promotion], reviewers: [alice]}
---
apiVersion: ferry.dev/v1alpha1
kind: Promotion
metadata: {name: web-path}
spec:
  from: {app: web-staging}
  to: {path: overlays/prod-eu/}
  verify:
    http: {url: "https://staging.example.com/healthz", status: 204}
---
apiVersion: ferry.dev/v1alpha1
kind: Rejection
spec:
  image: ghcr.io/acme/web:1.2.3
  reason: crashes on start
  by: alice
---
apiVersion: ferry.dev/v1alpha1
kind: Rejection
spec:
  image: nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  reason: CVE
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Promotions) != 2 {
		t.Fatalf("promotions: %+v", set.Promotions)
	}
	p := set.Promotions[0]
	if p.Name != "web" || p.From != "web-staging" || p.ToApp != "web-production" || p.Soak != 30*time.Minute ||
		p.Job != "verify/smoke.yaml" || p.JobTimeout != 5*time.Minute || p.PullRequest.Labels[0] != "promotion" || p.Source.Line != 11 {
		t.Errorf("promotion web = %+v", p)
	}
	q, ok := set.FindPromotion("web-path")
	if !ok || q.ToPath != "overlays/prod-eu" || q.HTTP != "https://staging.example.com/healthz" || q.Status != 204 {
		t.Errorf("promotion web-path = %+v", q)
	}
	if len(set.Rejections) != 2 {
		t.Fatalf("rejections: %+v", set.Rejections)
	}
	r := set.Rejections[0]
	if r.Image != "ghcr.io/acme/web" || r.Tag != "1.2.3" || r.Reason != "crashes on start" || r.By != "alice" {
		t.Errorf("rejection = %+v", r)
	}
	if !r.Matches("ghcr.io/acme/web", "1.2.3", "") || r.Matches("ghcr.io/acme/web", "1.2.4", "") {
		t.Error("tag rejection matching")
	}
	d := set.Rejections[1]
	if d.Image != "docker.io/library/nginx" || d.Tag != "" || !d.Matches("docker.io/library/nginx", "1.27", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") {
		t.Errorf("digest rejection = %+v", d)
	}
	if _, ok := FindRejection(set.Rejections, "docker.io/library/nginx", "1.27", "sha256:ff"); ok {
		t.Error("another digest matched")
	}
}

func TestPromotionErrors(t *testing.T) {
	_, err := Parse(".ferry/bad.yaml", []byte(promoApps+`apiVersion: ferry.dev/v1alpha1
kind: Promotion
metadata: {name: web}
spec:
  from: {app: nope}
  to: {app: web-production, path: x}
  soak: soon
  verify:
    job: {template: ../x.yaml}
    http: {url: ftp://x}
  color: blue
---
apiVersion: ferry.dev/v1alpha1
kind: Promotion
metadata: {name: web2}
spec:
  from: {app: web-staging}
  to: {app: web-staging}
  verify:
    http: {url: "ftp://x", status: 42}
---
apiVersion: ferry.dev/v1alpha1
kind: Promotion
metadata: {name: web3}
spec:
  to: {}
---
apiVersion: ferry.dev/v1alpha1
kind: Rejection
spec:
  image: ghcr.io/acme/web
  reason: ""
`))
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	for _, want := range []string{
		`.ferry/bad.yaml:15: spec.from.app: no App named "nope" in .ferry`,
		`.ferry/bad.yaml:16: spec.to: give app or path, not both`,
		`.ferry/bad.yaml:17: spec.soak: must be a duration`,
		`.ferry/bad.yaml:20: spec.verify: give job or http, not both`,
		`.ferry/bad.yaml:21: spec.color: unknown field "color"`,
		`.ferry/bad.yaml:28: spec.to.app: promotes web-staging to itself`,
		`.ferry/bad.yaml:30: spec.verify.http.url: must be an http or https URL, got "ftp://x"`,
		`.ferry/bad.yaml:30: spec.verify.http.status: must be an HTTP status (100-599), got 42`,
		`.ferry/bad.yaml:35: spec.from: required field is missing`,
		`.ferry/bad.yaml:36: spec.to: one of app or path is required`,
		`.ferry/bad.yaml:41: spec.image: "ghcr.io/acme/web" names no version`,
		`.ferry/bad.yaml:42: spec.reason: must not be empty`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestParseRejected(t *testing.T) {
	for _, bad := range []string{"ghcr.io/acme/web", "ghcr.io/acme/web:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "Bad Image:1"} {
		if _, err := ParseRejected(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
