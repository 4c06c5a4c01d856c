package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
	"github.com/ferrygitops/ferry/server"
)

// appDoc is an App document applying PATH to namespace NS.
func appDoc(name, path, ns string) string {
	return fmt.Sprintf("---\napiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: %s}\nspec:\n  source: {path: %s}\n  destination: {namespace: %s}\n  syncPolicy: {automated: true, timeout: 20s}\n", name, path, ns)
}

func configMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {value: %q}\n", name, value)
}

// cmValue is the value of ConfigMap ns/name, "" when it does not exist.
func cmValue(cs kubernetes.Interface, ns, name string) string {
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return cm.Data["value"]
}

// Each repository's apps are cloned with that repository's credentials:
// the second repository lives on another git server with another token.
func TestAppsClonedWithTheirRepositorysCredentials(t *testing.T) {
	c := kube.Shared(t)
	cs := kubernetes.NewForConfigOrDie(c.Config())
	ns1, ns2 := c.Namespace(t), c.Namespace(t)
	f := newFixture(t)
	f.repo("one", map[string]string{".ferry/apps.yaml": appDoc("creds-one", "one", ns1), "one/cm.yaml": configMap("one", "v1")})
	other := gitserver.New(t, gitserver.WithBasicAuth(gitrepoUser, "token-of-the-second-server"))
	url2 := other.CreateRepo("two", map[string]string{".ferry/apps.yaml": appDoc("creds-two", "two", ns2), "two/cm.yaml": configMap("two", "v1")})
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos:
  - %s
  - {url: %s, mode: branch, git: {tokenFile: %s}}
sync: {enabled: true, kubeconfig: %s, interval: 1h}
`, f.pullRepo("one", "main"), url2, f.file("token-two", "token-of-the-second-server"), c.Kubeconfig()), Options{})
	waitFor(t, "both apps applied", func() bool { return cmValue(cs, ns1, "one") == "v1" && cmValue(cs, ns2, "two") == "v1" })
	r.waitReady()
}

// Apps are read again every round: an App added or edited in git takes
// effect without a restart.
func TestAppsReadAgainEveryRound(t *testing.T) {
	c := kube.Shared(t)
	cs := kubernetes.NewForConfigOrDie(c.Config())
	ns := c.Namespace(t)
	f := newFixture(t)
	f.repo("one", map[string]string{".ferry/apps.yaml": appDoc("reread-a", "a", ns), "a/cm.yaml": configMap("a", "v1")})
	r := f.start(syncEverySecond(f, "one", c), Options{})
	r.waitReady()
	if v := cmValue(cs, ns, "a"); v != "v1" {
		t.Fatalf("ConfigMap a = %q after the first round", v)
	}
	// A second app, and the first one moved to another directory.
	f.git.Commit("one", "main", "a new app; a moves", map[string]string{
		".ferry/apps.yaml": appDoc("reread-a", "a2", ns) + appDoc("reread-b", "b", ns),
		"a2/cm.yaml":       configMap("a", "v2"),
		"b/cm.yaml":        configMap("b", "v1"),
	}, "a/cm.yaml")
	waitFor(t, "the added app to be applied", func() bool { return cmValue(cs, ns, "b") == "v1" })
	waitFor(t, "the edited app to be applied", func() bool { return cmValue(cs, ns, "a") == "v2" })
}

// A sync a webhook started ends when the service shuts down, before its
// clone directory is removed: Run returns with the app's sync lease free.
func TestWebhookSyncEndsOnShutdown(t *testing.T) {
	c := kube.Shared(t)
	cs := kubernetes.NewForConfigOrDie(c.Config())
	ns := c.Namespace(t)
	f := newFixture(t)
	f.repo("one", map[string]string{".ferry/apps.yaml": appDoc("shutdown", "app", ns), "app/cm.yaml": configMap("cm", "v1")})
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s]
webhooks: {githubSecretFile: %s}
sync: {enabled: true, kubeconfig: %s, interval: 1h, namespace: %s}
`, f.pullRepo("one", "main"), f.file("gh-secret", "hook-secret"), c.Kubeconfig(), ns), Options{})
	r.waitReady()

	// A Deployment no controller ever rolls out: the sync waits for its
	// health until the timeout (20s).
	head := f.git.Commit("one", "main", "a deployment", map[string]string{"app/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec: {containers: [{name: c, image: example.com/stuck:1}]}
`})
	if code := r.githubPush("hook-secret", "acme/one", "main", head); code != http.StatusOK {
		t.Fatalf("push webhook: %d", code)
	}
	waitFor(t, "the webhook's sync to apply the Deployment", func() bool {
		_, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "stuck", metav1.GetOptions{})
		return err == nil
	})
	time.Sleep(500 * time.Millisecond)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	lease, err := cs.CoordinationV1().Leases(ns).Get(context.Background(), deploy.LeasePrefix+"shutdown", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := ptr.Deref(lease.Spec.HolderIdentity, ""); h != "" {
		t.Errorf("Run returned while a sync still holds the app's lease (%s)", h)
	}
}

// No log line, event or status field carries a repository URL's
// credentials, not even when reading the apps fails.
func TestNoCredentialsInLogsOrStatus(t *testing.T) {
	c := kube.Shared(t)
	f := newFixture(t)
	f.repo("one", map[string]string{".ferry/apps.yaml": "apiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: broken}\nspec: {colour: blue}\n"})
	const secret = "url-secret-0123456789"
	withUserinfo := strings.Replace(f.git.RepoURL("one"), "http://", "http://x-access-token:"+secret+"@", 1)
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [{url: %s, github: {url: %s, repo: acme/one, tokenFile: %s}}]
sync: {enabled: true, kubeconfig: %s, interval: 1h}
`, withUserinfo, f.gh.BaseURL(), f.token(), c.Kubeconfig()), Options{})
	waitFor(t, "the failed read of the apps", func() bool { return strings.Contains(r.status(), "reading apps failed") })
	r.waitReady()
	page := r.status()
	_, html := get(r.base + "/")
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{"the logs": r.logs.String(), "status.json": page, "the status page": html} {
		if strings.Contains(s, secret) {
			t.Errorf("%s hold the URL's password", what)
		}
		if !strings.Contains(s, f.git.RepoURL("one")) {
			t.Errorf("%s do not name the repository", what)
		}
	}
}

// A broken commit on main shows on the status page: the app's last sync
// Failed with its reason, and the revision the cluster is still at.
func TestFailedSyncVisibleInStatus(t *testing.T) {
	c := kube.Shared(t)
	cs := kubernetes.NewForConfigOrDie(c.Config())
	ns := c.Namespace(t)
	f := newFixture(t)
	f.repo("one", map[string]string{".ferry/apps.yaml": appDoc("broken-a", "a", ns), "a/cm.yaml": configMap("a", "v1")})
	r := f.start(syncEverySecond(f, "one", c), Options{})
	r.waitReady()
	waitFor(t, "the app to be applied", func() bool { return cmValue(cs, ns, "a") == "v1" })
	good, _ := f.git.Head("one", "main")
	f.git.Commit("one", "main", "a broken manifest", map[string]string{"a/cm.yaml": "kind: ConfigMap\nmetadata: {name: a\n"})
	var app server.AppStatus
	waitFor(t, "the failed sync on the status page", func() bool {
		var snap server.Snapshot
		if err := json.Unmarshal([]byte(r.status()), &snap); err != nil {
			return false
		}
		for _, a := range snap.Apps {
			if a.Name == "broken-a" {
				app = a
			}
		}
		return app.Result == "Failed"
	})
	if app.Reason != "RenderFailed" || app.Synced != good || !strings.Contains(app.Message, "a/cm.yaml") {
		t.Errorf("status of the failed app: %+v (want reason RenderFailed, synced %s, the file named)", app, good)
	}
	if v := cmValue(cs, ns, "a"); v != "v1" {
		t.Errorf("ConfigMap a = %q after the failed sync", v)
	}
}

// syncEverySecond is a run config that bumps repository repo hourly and
// syncs its apps to c every second.
func syncEverySecond(f *fixture, repo string, c *kube.Cluster) string {
	return fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s]
sync: {enabled: true, kubeconfig: %s, interval: 1s}
`, f.pullRepo(repo, "main"), c.Kubeconfig())
}
