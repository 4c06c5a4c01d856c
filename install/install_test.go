package install_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/internal/testenv"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// TestInstallManifests checks, without a cluster, what the RBAC modes
// promise: namespaced overlays hold no cluster-scoped RBAC at all, and
// Roles only in Ferry's namespace and in the destination namespaces their
// destinations.yaml lists, every sync Role with the one rule list; the
// CronJob mounts no token; the webhooks' Secret is optional.
func TestInstallManifests(t *testing.T) {
	rules := buildDir(t, "staging")
	var want []any
	for _, u := range rules {
		if u.GetKind() == "Role" && u.GetName() == "ferry-sync" {
			want, _, _ = unstructured.NestedSlice(u.Object, "rules")
		}
	}
	if len(want) == 0 {
		t.Fatal("the staging overlay's Role ferry-sync has no rules: the sync-rules component did not fill them in")
	}
	for _, dir := range []string{"staging", "production"} {
		objs := buildDir(t, dir)
		dest := map[string]bool{}
		for _, d := range buildDir(t, dir) {
			if d.GetKind() == "Namespace" && d.GetName() != ferryNamespace {
				dest[d.GetName()] = true
			}
		}
		if !dest["myapp-"+dir] || len(dest) != 1 {
			t.Errorf("%s: destination namespaces %v, want myapp-%s", dir, dest, dir)
		}
		for _, u := range objs {
			switch u.GetKind() {
			case "ClusterRole", "ClusterRoleBinding":
				t.Errorf("%s: namespaced mode holds %s %s", dir, u.GetKind(), u.GetName())
			case "Role", "RoleBinding":
				if ns := u.GetNamespace(); ns != ferryNamespace && !dest[ns] {
					t.Errorf("%s: %s %s in %s, neither Ferry's nor a destination namespace", dir, u.GetKind(), u.GetName(), ns)
				}
				if u.GetKind() == "Role" && u.GetName() == "ferry-sync" {
					got, _, _ := unstructured.NestedSlice(u.Object, "rules")
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s: Role %s/ferry-sync rules differ from the sync-rules component's", dir, u.GetNamespace())
					}
				}
			}
		}
		d := find(objs, "Deployment", ferryNamespace, "ferry")
		if d == nil {
			t.Fatalf("%s: no Deployment", dir)
		}
		vols, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "volumes")
		optional := false
		for _, v := range vols {
			if s, ok := v.(map[string]any)["secret"].(map[string]any); ok && s["secretName"] == "ferry-webhooks" {
				optional = s["optional"] == true
			}
		}
		if !optional {
			t.Errorf("%s: the ferry-webhooks Secret is not mounted optional", dir)
		}
	}
	cj := find(buildDir(t, "cronjob"), "CronJob", ferryNamespace, "ferry-bump")
	if automount, found, _ := unstructured.NestedBool(cj.Object, "spec", "jobTemplate", "spec", "template", "spec", "automountServiceAccountToken"); !found || automount {
		t.Error("the CronJob's pods mount a service account token")
	}
}

// TestInstallStaging applies the staging install (namespaced RBAC) and
// the CronJob variant exactly as documented to a fresh API server (no
// namespace made by hand), mints a token for Ferry's service account and,
// with that token only, runs `ferry sync` and one `ferry run` cycle on the
// example apps; actions outside the granted namespaces are refused with
// the API server's reason.
func TestInstallStaging(t *testing.T) {
	cluster := kube.Start(t)
	ctx := context.Background()
	admin := cluster.Config()
	cs := kubernetes.NewForConfigOrDie(admin)
	staging := buildDir(t, "staging")
	apply(t, admin, staging)
	apply(t, admin, buildDir(t, "cronjob"))

	d, err := cs.AppsV1().Deployments(ferryNamespace).Get(ctx, "ferry", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 2 {
		t.Fatalf("the Deployment: %v", err)
	}
	for _, get := range []func() error{
		func() error {
			_, err := cs.CoreV1().Services(ferryNamespace).Get(ctx, "ferry", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := cs.BatchV1().CronJobs(ferryNamespace).Get(ctx, "ferry-bump", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().Namespaces().Get(ctx, "myapp-staging", metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); err != nil {
			t.Error(err)
		}
	}

	token := serviceAccountToken(t, cs)
	sa := tokenConfig(admin, token)
	waitAllowed(t, sa, access{namespace: "myapp-staging", group: "apps", resource: "deployments", verb: "patch"})
	checkAccess(t, sa, []access{
		{namespace: "myapp-staging", group: "apps", resource: "deployments", verb: "patch", allowed: true},
		{namespace: "myapp-staging", resource: "services", verb: "delete", allowed: true},
		{namespace: "myapp-staging", group: "batch", resource: "cronjobs", verb: "create", allowed: true},
		{namespace: "myapp-staging", resource: "namespaces", name: "myapp-staging", verb: "patch", allowed: true},
		{namespace: "myapp-staging", resource: "namespaces", name: "myapp-staging", verb: "delete", allowed: false},
		{namespace: "myapp-staging", resource: "secrets", verb: "get", allowed: false},
		{namespace: "myapp-production", group: "apps", resource: "deployments", verb: "patch", allowed: false},
		{namespace: "default", group: "apps", resource: "deployments", verb: "list", allowed: false},
		{namespace: "kube-system", resource: "configmaps", verb: "get", allowed: false},
		{namespace: ferryNamespace, group: "coordination.k8s.io", resource: "leases", verb: "update", allowed: true},
		{namespace: ferryNamespace, resource: "configmaps", verb: "create", allowed: true},
		{namespace: ferryNamespace, resource: "configmaps", verb: "delete", allowed: false},
		{namespace: ferryNamespace, resource: "secrets", verb: "get", allowed: false},
		{namespace: ferryNamespace, group: "apps", resource: "deployments", verb: "patch", allowed: false},
		{resource: "namespaces", verb: "list", allowed: false},
		{resource: "namespaces", verb: "create", allowed: false},
		{group: "rbac.authorization.k8s.io", resource: "clusterroles", verb: "create", allowed: false},
		{group: "apiextensions.k8s.io", resource: "customresourcedefinitions", verb: "create", allowed: false},
	})

	srv := startServers(t)
	kubeconfig := writeKubeconfig(t, admin, token)
	kube.FakeDeploymentController(t, admin, "myapp-staging")

	code, out, errs := srv.ferry(t, "sync", "myapp-staging", "--repo", srv.url, "--kubeconfig", kubeconfig, "--timeout", "1m", "-o", "json")
	if code != 0 {
		t.Fatalf("ferry sync myapp-staging with Ferry's service account: exit %d\n%s\n%s", code, out, errs)
	}
	var rec deploy.Record
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.Result != deploy.Succeeded || rec.Counts.Created == 0 {
		t.Fatalf("ferry sync: %v %s %+v", err, rec.Result, rec.Counts)
	}
	for _, name := range []string{deploy.RecordPrefix + "myapp-staging", deploy.InventoryPrefix + "myapp-staging"} {
		if _, err := cs.CoreV1().ConfigMaps(ferryNamespace).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s is not in %s: %v", name, ferryNamespace, err)
		}
	}
	if _, err := cs.AppsV1().Deployments("myapp-staging").Get(ctx, "myapp", metav1.GetOptions{}); err != nil {
		t.Errorf("the app's Deployment: %v", err)
	}
	if code, out, errs := srv.ferry(t, "status", "myapp-staging", "--repo", srv.url, "--kubeconfig", kubeconfig); code != 0 || !strings.Contains(out, "Succeeded") {
		t.Errorf("ferry status: exit %d\n%s\n%s", code, out, errs)
	}

	// Outside the granted scope: refused before anything is applied, saying why.
	code, _, errs = srv.ferry(t, "sync", "myapp-production", "--repo", srv.url, "--kubeconfig", kubeconfig)
	if code != 3 || !strings.Contains(errs, "reading namespaces myapp-production: Ferry may neither list namespaces at cluster scope nor get this one") ||
		!strings.Contains(errs, `User "`+ferryUser+`" cannot get resource "namespaces"`) {
		t.Errorf("ferry sync myapp-production in the staging cluster: exit %d\n%s", code, errs)
	}
	code, _, errs = srv.ferry(t, "sync", "scratch", "--repo", srv.url, "--app-path", "base", "--namespace", "default", "--kubeconfig", kubeconfig)
	if code != 3 || !strings.Contains(errs, "nothing applied") || !strings.Contains(errs, `User "`+ferryUser+`" cannot list resource "deployments" in API group "apps" in the namespace "default"`) {
		t.Errorf("ferry sync into namespace default: exit %d\n%s", code, errs)
	}
	// The README quotes this refusal.
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	quoted := regexp.MustCompile(`(?m)^ferry: syncing app scratch .*$`).FindString(string(readme))
	rev := regexp.MustCompile(`at [0-9a-f]{12}:`)
	if quoted == "" || !strings.Contains(rev.ReplaceAllString(errs, "at REV:"), rev.ReplaceAllString(quoted, "at REV:")) {
		t.Errorf("install/README.md quotes\n%s\nferry said\n%s", quoted, errs)
	}
	if l, err := cs.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("something was applied to default: %v %v", err, l)
	}

	runOneCycle(t, srv, "staging", "myapp-staging", kubeconfig)
	l, err := cs.CoordinationV1().Leases(ferryNamespace).Get(ctx, "ferry", metav1.GetOptions{})
	if err != nil || l.Spec.LeaseTransitions == nil {
		t.Errorf("the leader-election Lease: %v", err)
	}
}

// runOneCycle runs `ferry run` with the overlay's config.yaml (only the
// repository, GitHub, listen address and files moved to the test's
// servers and directories; the webhook secret files are absent, as with
// the optional Secret not created) until it is ready — its first bump
// cycle done and each app of its cluster synced once — then stops it with
// SIGTERM, as the kubelet would.
func runOneCycle(t *testing.T, srv *servers, overlay, wantApp, kubeconfig string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(overlay, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := yaml.Parse(string(data))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "github-token")
	if err := os.WriteFile(tokenFile, []byte(githubapi.DefaultToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	repo := []string{"repos", "[url=https://github.com/acme/manifests]"}
	type edit struct {
		path  []string
		value string
	}
	sets := []edit{
		{[]string{"listen"}, addr},
		{append(repo, "workdir"), filepath.Join(dir, "manifests")},
		{append(repo, "github", "url"), srv.gh.BaseURL()},
		{append(repo, "github", "repo"), "acme/manifests"},
	}
	if n, _ := cfg.Pipe(yaml.Lookup(append(repo, "github", "app")...)); n != nil {
		sets = append(sets, edit{append(repo, "github", "app", "privateKeyFile"), srv.appKeyFile})
	} else {
		sets = append(sets, edit{append(repo, "github", "tokenFile"), tokenFile})
	}
	sets = append(sets, edit{append(repo, "url"), srv.url}) // last: the others look the repository up by its URL
	for _, set := range sets {
		if err := cfg.PipeE(yaml.LookupCreate(yaml.ScalarNode, set.path...), yaml.FieldSetter{StringValue: set.value}); err != nil {
			t.Fatalf("config.yaml %v: %v", set.path, err)
		}
	}
	for _, f := range []string{"githubSecretFile", "ecrTokenFile", "registryTokenFile"} {
		if v, _ := cfg.GetString("webhooks." + f); v == "" {
			t.Fatalf("config.yaml names no webhooks.%s", f)
		} else if _, err := os.Stat(v); err == nil {
			t.Fatalf("%s exists on this machine; the test needs it absent", v)
		}
	}
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg.MustString()), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(ferryBinary(t), "run", "--config", cfgFile, "--kubeconfig", kubeconfig, "--log-level", "info")
	cmd.Env = srv.env()
	var logs testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	// Ready is not enough: a replica is ready as a follower before it
	// leads. Wait for the leader's first cycle and first sync round.
	base := "http://" + addr
	type status struct {
		LastCycle *struct {
			Error string `json:"error"`
		} `json:"lastCycle"`
		Apps []struct {
			Name, Result, Message string
		} `json:"apps"`
	}
	var snap status
	deadline := time.Now().Add(3 * time.Minute)
	for {
		code, _ := httpGet(base + "/readyz")
		_, body := httpGet(base + "/status.json")
		snap = status{}
		_ = json.Unmarshal([]byte(body), &snap)
		if code == http.StatusOK && snap.LastCycle != nil && len(snap.Apps) > 0 && !slices.ContainsFunc(snap.Apps, func(a struct{ Name, Result, Message string }) bool { return a.Result == "pending" }) {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("ferry run exited before its first cycle and sync: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ferry run did not complete a cycle and a sync round\n%s\n%s", body, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if snap.LastCycle == nil || snap.LastCycle.Error != "" {
		t.Errorf("the first bump cycle: %+v\n%s", snap.LastCycle, logs.String())
	}
	// The example's other apps of this cluster (a Helm chart, a jsonnet
	// program) sync too; none may fail.
	i := slices.IndexFunc(snap.Apps, func(a struct{ Name, Result, Message string }) bool { return a.Name == wantApp })
	failed := slices.ContainsFunc(snap.Apps, func(a struct{ Name, Result, Message string }) bool { return a.Result != string(deploy.Succeeded) })
	if i < 0 || failed {
		t.Errorf("apps synced by ferry run in the %s cluster: %+v\n%s", overlay, snap.Apps, logs.String())
	}
	if prs := srv.gh.PullRequests("acme", "manifests"); len(prs) == 0 {
		t.Errorf("the bump cycle opened no pull request\n%s", logs.String())
	}
	for _, hook := range []string{"github", "ecr", "registry"} {
		resp, err := http.Post(base+"/webhooks/"+hook, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST /webhooks/%s without its secret file: %d, want 404 (off)", hook, resp.StatusCode)
		}
	}
	for _, hook := range []string{"github", "ecr", "registry"} {
		if !slices.ContainsFunc(strings.Split(logs.String(), "\n"), func(line string) bool {
			return strings.Contains(line, "webhook disabled: its secret file does not exist") && strings.Contains(line, "webhook="+hook)
		}) {
			t.Errorf("no log line says webhook %s is off\n%s", hook, logs.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("ferry run after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(time.Minute):
		t.Errorf("ferry run did not stop within a minute of SIGTERM")
	}
	if strings.Contains(logs.String(), githubapi.DefaultToken) {
		t.Error("the GitHub token appears in ferry run's output")
	}
}

func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestInstallClusterWide applies the cluster-wide RBAC mode made as the
// overlays' comment says (staging with destinations.yaml and the
// sync-rules component replaced by components: [../rbac/cluster-wide]):
// no destination namespace exists before the first sync, which creates it;
// Ferry's token then syncs both example apps, and may still read no
// Secret and change no RBAC.
func TestInstallClusterWide(t *testing.T) {
	mem := inMemoryInstall(t)
	k, err := mem.ReadFile("/install/staging/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(strings.Replace(string(k), "  - destinations.yaml\n", "", 1), "  - ../rbac/sync-rules\n", "  - ../rbac/cluster-wide\n", 1)
	if edited == string(k) || strings.Contains(edited, "destinations.yaml\n") {
		t.Fatalf("staging/kustomization.yaml no longer holds the lines its comment tells to replace:\n%s", k)
	}
	if err := mem.WriteFile("/install/staging/kustomization.yaml", []byte(edited)); err != nil {
		t.Fatal(err)
	}
	objs := build(t, mem, "/install/staging")
	for _, u := range objs {
		if u.GetKind() == "Role" && u.GetNamespace() != ferryNamespace || u.GetKind() == "Namespace" && u.GetName() != ferryNamespace {
			t.Errorf("cluster-wide mode holds %s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
		}
	}
	cr := find(objs, "ClusterRole", "", "ferry-sync")
	if rules, _, _ := unstructured.NestedSlice(cr.Object, "rules"); len(rules) == 0 {
		t.Fatal("the ClusterRole ferry-sync has no rules: the sync-rules component did not fill them in")
	}

	cluster := kube.Start(t)
	admin := cluster.Config()
	cs := kubernetes.NewForConfigOrDie(admin)
	apply(t, admin, objs)
	token := serviceAccountToken(t, cs)
	sa := tokenConfig(admin, token)
	waitAllowed(t, sa, access{resource: "namespaces", verb: "create"})
	checkAccess(t, sa, []access{
		{namespace: "anything", group: "apps", resource: "deployments", verb: "patch", allowed: true},
		{resource: "namespaces", verb: "list", allowed: true},
		{resource: "namespaces", name: "anything", verb: "patch", allowed: true},
		{namespace: "anything", resource: "secrets", verb: "get", allowed: false},
		{resource: "secrets", verb: "list", allowed: false},
		{group: "rbac.authorization.k8s.io", resource: "clusterrolebindings", verb: "create", allowed: false},
		{namespace: "anything", group: "rbac.authorization.k8s.io", resource: "roles", verb: "create", allowed: false},
		{resource: "nodes", verb: "get", allowed: false},
		{namespace: ferryNamespace, resource: "configmaps", verb: "update", allowed: true},
	})

	srv := startServers(t)
	kubeconfig := writeKubeconfig(t, admin, token)
	for _, app := range []string{"myapp-staging", "myapp-production"} {
		kube.FakeDeploymentController(t, admin, app) // watches the namespace the sync creates
		code, out, errs := srv.ferry(t, "sync", app, "--repo", srv.url, "--kubeconfig", kubeconfig, "--timeout", "1m", "-o", "json")
		var rec deploy.Record
		if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec.Result != deploy.Succeeded {
			t.Fatalf("ferry sync %s with the cluster-wide role: exit %d\n%s\n%s", app, code, out, errs)
		}
		ns, err := cs.CoreV1().Namespaces().Get(context.Background(), app, metav1.GetOptions{})
		if err != nil || ns.Labels[deploy.LabelApp] != app {
			t.Errorf("the namespace %s was not created by the sync: %v", app, err)
		}
	}
}
