package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// TestFailedSyncsAreRecorded: a sync that fails (a render error, a
// rejected object) is in `ferry status` with its result, reason and
// revision, beside the revision that last synced; the next good commit
// syncs as usual.
func TestFailedSyncsAreRecorded(t *testing.T) {
	c := kube.Start(t)
	ns := c.Namespace(t)
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/apps.yaml": appsYAML(ns),
		"app/a.yaml":       cm("a", "1"),
	})
	good, _ := git.Head("manifests", "main")
	base := []string{"--repo", url, "--kubeconfig", c.Kubeconfig()}
	cmd := func(args ...string) []string { return append(args, base...) }
	// The fields of `ferry status -o json` the test reads.
	type record struct {
		Revision, Error string
		Result          deploy.Result
		Reason          string
	}
	type appStatus struct {
		Revision string
		Last     *record
		History  []record
	}
	status := func() appStatus {
		t.Helper()
		code, out, errs := run(t, cmd("status", "web", "-o", "json")...)
		var st appStatus
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("status: exit %d\n%s\n%s", code, out, errs)
		}
		return st
	}
	if code, out, errs := run(t, cmd("sync", "web")...); code != 0 {
		t.Fatalf("sync: exit %d\n%s\n%s", code, out, errs)
	}

	broken := git.Commit("manifests", "main", "broken YAML", map[string]string{"app/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b\n"})
	if code, out, errs := run(t, cmd("sync", "web")...); code != exitFailure || !strings.Contains(errs, "app/b.yaml:") {
		t.Fatalf("sync of broken YAML: exit %d\n%s\n%s", code, out, errs)
	}
	st := status()
	if len(st.History) != 2 || st.Last.Result != deploy.Failed || st.Last.Reason != "RenderFailed" || st.Last.Revision != broken ||
		!strings.Contains(st.Last.Error, "app/b.yaml:") || st.Revision != good {
		t.Fatalf("after a render error: revision %s, last %+v", st.Revision, st.Last)
	}

	rejected := git.Commit("manifests", "main", "rejected", map[string]string{"app/b.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: 70000}]}\n"})
	if code, out, errs := run(t, cmd("sync", "web")...); code != exitFailure || !strings.Contains(errs, "nothing applied") {
		t.Fatalf("sync of a rejected object: exit %d\n%s\n%s", code, out, errs)
	}
	st = status()
	if len(st.History) != 3 || st.Last.Result != deploy.Failed || st.Last.Reason != "Rejected" || st.Last.Revision != rejected || st.Revision != good {
		t.Fatalf("after a rejection: revision %s, last %+v", st.Revision, st.Last)
	}
	code, out, _ := run(t, cmd("status", "web")...)
	for _, want := range []string{good[:12], rejected[:12], "Rejected", "RenderFailed", "Failed"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status table lacks %q: exit %d\n%s", want, code, out)
		}
	}
	t.Logf("ferry status web:\n%s", out)

	fixed := git.Commit("manifests", "main", "fixed", nil, "app/b.yaml")
	if code, out, errs := run(t, cmd("sync", "web")...); code != 0 {
		t.Fatalf("sync after the fix: exit %d\n%s\n%s", code, out, errs)
	}
	if st = status(); st.Last.Result != deploy.Succeeded || st.Last.Reason != "" || st.Revision != fixed {
		t.Fatalf("after the fix: revision %s, last %+v", st.Revision, st.Last)
	}
}

// TestTimeoutZero: --timeout 0s does not wait for health, on sync and on
// rollback: a Deployment no controller ever rolls out does not hold them.
func TestTimeoutZero(t *testing.T) {
	c := kube.Start(t)
	ns := c.Namespace(t)
	git := gitserver.New(t)
	deployment := func(image string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: api, image: " + image + "}]}\n"
	}
	url := git.CreateRepo("manifests", map[string]string{".ferry/apps.yaml": appsYAML(ns), "app/api.yaml": deployment("nginx:1")})
	base := []string{"--repo", url, "--kubeconfig", c.Kubeconfig(), "--timeout", "0s"}
	cmd := func(args ...string) []string { return append(args, base...) }
	for i, args := range [][]string{{"sync", "web"}, nil, {"rollback", "web"}} {
		if args == nil {
			git.Commit("manifests", "main", "v2", map[string]string{"app/api.yaml": deployment("nginx:2")})
			args = []string{"sync", "web"}
		}
		start := time.Now()
		code, out, errs := run(t, cmd(args...)...)
		if code != 0 || time.Since(start) > 20*time.Second || !strings.Contains(out, "InProgress") {
			t.Fatalf("step %d, %v --timeout 0s: exit %d after %v\n%s\n%s", i, args, code, time.Since(start), out, errs)
		}
		t.Logf("%v --timeout 0s:\n%s", args, out)
	}
}

// TestUnreachableAPIServer: with nothing listening at the kubeconfig's
// server, sync and diff fail within seconds, naming the server, instead of
// retrying for a minute and blaming the manifests.
func TestUnreachableAPIServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "https://%s", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
`, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/apps.yaml":       appsYAML("web"),
		"app/kustomization.yaml": "resources: [a.yaml]\n",
		"app/a.yaml":             cm("a", "1"),
	})
	for _, tc := range []struct {
		args  []string
		limit time.Duration
	}{
		{[]string{"sync", "web"}, 15 * time.Second},
		{[]string{"diff", "web"}, 15 * time.Second},
		{[]string{"status", "web", "--namespace", "web"}, 15 * time.Second},
		{[]string{"sync", "web", "--connect-timeout", "1s"}, 6 * time.Second},
	} {
		start := time.Now()
		code, out, errs := run(t, append(tc.args, "--repo", url, "--kubeconfig", kubeconfig)...)
		took := time.Since(start)
		if code != exitFailure || took > tc.limit || !strings.Contains(errs, addr) || !strings.Contains(errs, "cannot reach the Kubernetes API server") ||
			strings.Contains(errs, "kustomize") {
			t.Errorf("%v: exit %d after %v\n%s\n%s", tc.args, code, took, out, errs)
			continue
		}
		t.Logf("%v: exit %d after %v: %s", tc.args, code, took.Round(time.Millisecond), strings.TrimSpace(errs))
	}
}
