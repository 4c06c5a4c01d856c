package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
	"github.com/ferrygitops/ferry/server"
)

func TestServiceBumpsOnScheduleAndWebhooks(t *testing.T) {
	f := newFixture(t)
	f.repo("manifests", map[string]string{
		".ferry/policies.yaml": apiPolicy + "---\n" + webPolicy,
		"apps/api/deploy.yaml": apiDeployment,
		"apps/web/deploy.yaml": webDeployment,
	})
	r := f.start(fmt.Sprintf(`apiVersion: ferry.dev/v1alpha1
kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s]
webhooks: {registryTokenFile: %s}
`, f.pullRepo("manifests", "main"), f.file("registry-token", "reg-hook-secret\n")), Options{Version: "v9.9.9"})

	r.waitReady()
	if prs := f.gh.PullRequests("acme", "manifests"); len(prs) != 2 {
		t.Fatalf("%d pull requests after the first cycle, want 2", len(prs))
	}
	if code, body := get(r.base + "/metrics"); code != 200 || !strings.Contains(body, "ferry_bump_cycles_total") || !strings.Contains(body, `ferry_build_info{version="v9.9.9"} 1`) {
		t.Errorf("/metrics: %d\n%.300s", code, body)
	}
	if code, body := get(r.base + "/"); code != 200 || !strings.Contains(body, "ferry/api") || !strings.Contains(body, f.git.RepoURL("manifests")) {
		t.Errorf("status page: %d\n%.300s", code, body)
	}

	// A push of an image no policy governs starts no cycle.
	if code := r.registryPush("reg-hook-secret", f.reg.Host, "acme/unrelated", "1.0.0"); code != http.StatusAccepted {
		t.Errorf("unrelated push: %d, want 202", code)
	}
	if !strings.Contains(r.status(), "no policy governs that image") {
		t.Errorf("status.json does not say the unrelated push was ignored: %.600s", r.status())
	}
	if code := r.registryPush("wrong", f.reg.Host, "acme/api", "release.20240305"); code != http.StatusUnauthorized {
		t.Errorf("webhook with a wrong token: %d, want 401", code)
	}
	// A push notification from the registry triggers a cycle at once.
	if _, err := f.reg.Seed(context.Background(), "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	if code := r.registryPush("reg-hook-secret", f.reg.Host, "acme/api", "release.20240305"); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	waitFor(t, "the pull request to follow the pushed tag", func() bool {
		return f.branchHas("manifests", "ferry/api", "apps/api/deploy.yaml", "release.20240305")
	})
	if n := len(f.gh.PullRequests("acme", "manifests")); n != 2 {
		t.Errorf("%d pull requests, want still 2", n)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.logs.String(), githubapi.DefaultToken) {
		t.Error("the token appears in the logs")
	}
}

// /status.json is the server's Snapshot: per repository the last cycle,
// the policies and the pull requests; the apps with their repository.
func TestStatusJSON(t *testing.T) {
	f := newFixture(t)
	f.repo("manifests", map[string]string{".ferry/policies.yaml": apiPolicy, "apps/api/deploy.yaml": apiDeployment})
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s]
`, f.pullRepo("manifests", "main")), Options{Version: "v1.2.3"})
	r.waitReady()
	var snap server.Snapshot
	if err := json.Unmarshal([]byte(r.status()), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Version != "v1.2.3" || snap.LastCycle == nil || snap.LastCycle.Trigger != "start" || snap.Standby || len(snap.Repos) != 1 {
		t.Fatalf("status.json: %+v", snap)
	}
	repo := snap.Repos[0]
	if repo.URL != f.git.RepoURL("manifests") || repo.Branch != "main" || repo.Mode != "pull-request" || repo.BaseCommit == "" || repo.LastCycle == nil || repo.Failed {
		t.Errorf("repos[0]: %+v", repo)
	}
	if repo.Scan == nil || len(repo.Scan.Policies) != 1 {
		t.Fatalf("repos[0].scan: %+v", repo.Scan)
	}
	p := repo.Scan.Policies[0]
	if p.Name != "api" || p.Tag != "release.20240301" || len(p.References) != 1 ||
		p.References[0].Current != "release.20240101" || p.References[0].Wanted != "release.20240301" || p.References[0].Status != "update" ||
		p.References[0].Object != "Deployment/prod/api" {
		t.Errorf("the policy: %+v", p)
	}
	if len(repo.Groups) != 1 || repo.Groups[0].Action != "created" || repo.Groups[0].PullNumber != 1 ||
		len(repo.Groups[0].Changes) != 1 || repo.Groups[0].Changes[0].To != "release.20240301" {
		t.Errorf("the groups: %+v", repo.Groups)
	}
}

// With sync.cluster set, a Ferry applies only the apps of its own cluster:
// the production app is left to production's Ferry.
func TestSyncsOnlyTheAppsOfItsCluster(t *testing.T) {
	c := kube.Shared(t)
	cs := kubernetes.NewForConfigOrDie(c.Config())
	staging, production := c.Namespace(t), c.Namespace(t)
	f := newFixture(t)
	apps := ""
	for env, ns := range map[string]string{"staging": staging, "production": production} {
		apps += fmt.Sprintf("---\napiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: cluster-%[1]s}\nspec:\n  source: {path: %[1]s}\n  destination: {namespace: %[2]s, context: %[1]s}\n  syncPolicy: {automated: true, timeout: 1s}\n", env, ns)
	}
	f.repo("manifests", map[string]string{
		".ferry/apps.yaml":   apps,
		"staging/cm.yaml":    configMap("app", "staging"),
		"production/cm.yaml": configMap("app", "production"),
	})
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s]
sync: {enabled: true, kubeconfig: %s, cluster: staging}
`, f.pullRepo("manifests", "main"), c.Kubeconfig()), Options{})
	r.waitReady()
	if v := cmValue(cs, staging, "app"); v != "staging" {
		t.Errorf("the staging app was not applied: %q", v)
	}
	if v := cmValue(cs, production, "app"); v != "" {
		t.Error("the production app was applied to the staging cluster")
	}
	body := r.status()
	if !strings.Contains(body, `"name":"cluster-staging"`) || strings.Contains(body, `"name":"cluster-production"`) {
		t.Errorf("status.json apps: %.500s", body)
	}
}

// Two replicas with leader election: one Lease, one replica running
// cycles, both serving health; one set of pull requests; the other takes
// over when the leader goes.
func TestLeaderElection(t *testing.T) {
	c := kube.Shared(t)
	cs := kubernetes.NewForConfigOrDie(c.Config())
	ns := c.Namespace(t)
	f := newFixture(t)
	f.repo("manifests", map[string]string{".ferry/policies.yaml": apiPolicy + "---\n" + webPolicy, "apps/api/deploy.yaml": apiDeployment, "apps/web/deploy.yaml": webDeployment})
	config := fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s]
leaderElection: {enabled: true, namespace: %s, name: ferry-test}
sync: {kubeconfig: %s}
`, f.pullRepo("manifests", "main"), ns, c.Kubeconfig())
	replicas := []*running{f.start(config, fastElection), f.start(config, fastElection)}
	cycled := func(r *running) bool { return strings.Contains(r.status(), `"lastCycle"`) }
	waitFor(t, "one replica to run a cycle", func() bool { return cycled(replicas[0]) || cycled(replicas[1]) })
	for _, r := range replicas {
		r.waitReady()
	}
	if cycled(replicas[0]) && cycled(replicas[1]) {
		t.Fatal("both replicas ran cycles")
	}
	leader := 0
	if cycled(replicas[1]) {
		leader = 1
	}
	if !strings.Contains(replicas[1-leader].status(), `"standby":true`) {
		t.Errorf("the other replica does not say it stands by: %.300s", replicas[1-leader].status())
	}
	if n := len(f.gh.PullRequests("acme", "manifests")); n != 2 {
		t.Errorf("%d pull requests, want 2", n)
	}
	lease, err := cs.CoordinationV1().Leases(ns).Get(context.Background(), "ferry-test", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Errorf("the Lease: %v", err)
	}
	// The leader goes away: the other replica takes over.
	if err := replicas[leader].stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other replica to take over", func() bool { return cycled(replicas[1-leader]) })
}
