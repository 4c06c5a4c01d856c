package service

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// TestRunPromotesAfterSyncs: ferry run syncs staging and production,
// reports both syncs to GitHub as deployments of the synced commit, and
// opens the promotion pull request once staging is healthy (no soak, no
// verification here; package promote tests the gates).
func TestRunPromotesAfterSyncs(t *testing.T) {
	c := kube.Shared(t)
	staging, production := c.Namespace(t), c.Namespace(t)
	f := newFixture(t)
	img := func(tag string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata:\n  image: HOST/acme/web:%s # {\"$imagepolicy\": \"web\"}\n", tag)
	}
	docs := webPolicy + "  update: {paths: ['staging/**']}\n" + fmt.Sprintf(`---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web-staging}
spec: {source: {path: staging}, destination: {namespace: %s}, syncPolicy: {automated: true, timeout: 5s}}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web-production}
spec: {source: {path: production}, destination: {namespace: %s}, syncPolicy: {automated: true, timeout: 5s}}
---
apiVersion: ferry.dev/v1alpha1
kind: Promotion
metadata: {name: web}
spec: {from: {app: web-staging}, to: {app: web-production}}
`, staging, production)
	f.repo("manifests", map[string]string{
		".ferry/ferry.yaml":   docs,
		"staging/web.yaml":    img("v1.10.0"),
		"production/web.yaml": img("v1.9.0"),
	})
	head, _ := f.git.Head("manifests", "main")
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s]
sync: {enabled: true, interval: 1s, kubeconfig: %s}
`, f.pullRepo("manifests", "main"), c.Kubeconfig()), Options{})
	r.waitReady()
	openPRs := func() (n int, body string) {
		for _, pr := range f.gh.PullRequests("acme", "manifests") {
			if pr.Head == "ferry/promote-web" && pr.State == "open" {
				n, body = n+1, pr.Body
			}
		}
		return n, body
	}
	waitFor(t, "the promotion pull request", func() bool { n, _ := openPRs(); return n > 0 })
	if !f.branchHas("manifests", "ferry/promote-web", "production/web.yaml", "acme/web:v1.10.0 #") {
		t.Error("the promotion branch does not set production to staging's version")
	}
	if n, body := openPRs(); n != 1 || !strings.Contains(body, head) {
		t.Errorf("%d open promotion pull requests; the body should name staging's revision %s:\n%s", n, head, body)
	}
	waitFor(t, "both deployments", func() bool {
		envs := map[string]bool{}
		for _, d := range f.gh.Deployments("acme", "manifests") {
			if d.SHA == head && len(d.Statuses) > 0 && d.Statuses[len(d.Statuses)-1].State == "success" {
				envs[d.Environment] = true
			}
		}
		return envs["web-staging"] && envs["web-production"]
	})
}
