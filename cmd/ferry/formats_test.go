package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/examples"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// formatsRepo is a repository with a Helm app and a jsonnet app in
// namespace ns.
func formatsRepo(ns string) map[string]string {
	return map[string]string{
		".ferry/apps.yaml": `apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: shop}
spec:
  source:
    path: charts/shop
    helm:
      releaseName: prod
      valueFiles: [values-prod.yaml]
      valuesObject: {greeting: hi}
      parameters: [{name: replicas, value: "3"}]
  destination: {namespace: ` + ns + `}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: guestbook}
spec:
  source:
    path: apps/guestbook
    jsonnet:
      libs: [lib]
      extVars: [{name: env, value: staging}]
      tlas: [{name: copies, value: "2", code: true}]
  destination: {namespace: ` + ns + `}
`,
		"charts/shop/Chart.yaml":          "apiVersion: v2\nname: shop\nversion: 1.0.0\n",
		"charts/shop/values.yaml":         "greeting: hello\nreplicas: 1\nsize: small\n",
		"charts/shop/values-prod.yaml":    "size: large\n",
		"charts/shop/templates/NOTES.txt": "Installed {{ .Release.Name }}.\n",
		"charts/shop/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting }}
  replicas: {{ .Values.replicas | quote }}
  size: {{ .Values.size }}
  kube: {{ .Capabilities.KubeVersion.Version }}
  namespace: {{ .Release.Namespace }}
  apps: {{ .Capabilities.APIVersions.Has "apps/v1" | quote }}
  deploymentKind: {{ .Capabilities.APIVersions.Has "apps/v1/Deployment" | quote }}
`,
		"lib/names.libsonnet": "{ name(base, i):: base + '-' + i }\n",
		"apps/guestbook/main.jsonnet": `local names = import 'names.libsonnet';
function(copies=1) [
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: names.name('guestbook', i) }, data: { env: std.extVar('env') } }
  for i in std.map(std.toString, std.range(1, copies))
]
`,
	}
}

// TestHelmAndJsonnetApps: `ferry render` shows a Helm app and a jsonnet
// app without a cluster, and `ferry sync` applies them to a real API
// server, the chart seeing the cluster's version as .Capabilities.
func TestHelmAndJsonnetApps(t *testing.T) {
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", formatsRepo("shop"))

	code, out, errs := run(t, "render", "shop", "--repo", url, "--kube-version", "1.30.2")
	if code != 0 {
		t.Fatalf("render shop: exit %d\n%s", code, errs)
	}
	for _, want := range []string{"# Source: helm template charts/shop: charts/shop/templates/cm.yaml", "name: prod-settings", "namespace: shop",
		"greeting: hi", `replicas: "3"`, "size: large", "kube: v1.30.2", `apps: "true"`, `deploymentKind: "false"`} {
		if !strings.Contains(out, want) {
			t.Errorf("render shop lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Installed") {
		t.Errorf("NOTES.txt rendered as a manifest:\n%s", out)
	}
	code, out, errs = run(t, "render", "guestbook", "--repo", url)
	if code != 0 || !strings.Contains(out, "name: guestbook-1") || !strings.Contains(out, "name: guestbook-2") || !strings.Contains(out, "env: staging") {
		t.Fatalf("render guestbook: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, _ = run(t, "render", "shop", "--repo", url, "--api-versions", "apps/v1/Deployment"); code != 0 || !strings.Contains(out, `deploymentKind: "true"`) || !strings.Contains(out, "kube: v1.37.0") {
		t.Errorf("render --api-versions: exit %d\n%s", code, out)
	}
	if code, _, errs = run(t, "render", "shop", "--repo", url, "--kube-version", "one.two"); code != 2 || !strings.Contains(errs, "--kube-version") {
		t.Errorf("bad --kube-version: exit %d\n%s", code, errs)
	}

	c := kube.Start(t)
	ns := c.Namespace(t)
	url = git.CreateRepo("synced", formatsRepo(ns))
	base := []string{"--repo", url, "--kubeconfig", c.Kubeconfig(), "-o", "json"}
	for _, app := range []string{"shop", "guestbook"} {
		code, out, errs := run(t, append([]string{"sync", app}, base...)...)
		var rec deploy.Record
		if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec.Result != deploy.Succeeded {
			t.Fatalf("sync %s: exit %d\n%s\n%s", app, code, out, errs)
		}
		if code, out, _ := run(t, "diff", app, "--repo", url, "--kubeconfig", c.Kubeconfig()); code != 0 || !strings.Contains(out, "is in sync") {
			t.Errorf("diff %s after sync: exit %d\n%s", app, code, out)
		}
	}
	ctx := context.Background()
	cs := c.Client(t)
	got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "prod-settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Data["kube"], "v1.36.") || got.Data["namespace"] != ns || got.Data["size"] != "large" || got.Data["deploymentKind"] != "true" || got.Labels[deploy.LabelApp] != "shop" {
		t.Errorf("prod-settings = %v %v", got.Data, got.Labels)
	}
	for _, n := range []string{"guestbook-1", "guestbook-2"} {
		if cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, n, metav1.GetOptions{}); err != nil || cm.Data["env"] != "staging" {
			t.Errorf("%s: %v %v", n, cm, err)
		}
	}
}

// TestExampleRepoFormats: the example repository's Helm and jsonnet apps
// render with `ferry render`.
func TestExampleRepoFormats(t *testing.T) {
	files, err := examples.Files("ghcr.io/acme/web", "ghcr.io/acme/web")
	if err != nil {
		t.Fatal(err)
	}
	url := gitserver.New(t).CreateRepo("example", files)
	code, out, errs := run(t, "render", "web-staging", "--repo", url)
	if code != 0 {
		t.Fatalf("render web-staging: exit %d\n%s", code, errs)
	}
	for _, want := range []string{"kind: Deployment", "name: web-web", "namespace: myapp-staging", "replicas: 1", "image: ghcr.io/acme/web:1.4.2", "kind: Service", "port: 8080"} {
		if !strings.Contains(out, want) {
			t.Errorf("render web-staging lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = run(t, "render", "guestbook-staging", "--repo", url)
	if code != 0 {
		t.Fatalf("render guestbook-staging: exit %d\n%s", code, errs)
	}
	for _, want := range []string{"# Source: jsonnet jsonnet/guestbook/main.jsonnet: .deployment", "replicas: 2", "environment: staging", "name: guestbook-config"} {
		if !strings.Contains(out, want) {
			t.Errorf("render guestbook-staging lacks %q:\n%s", want, out)
		}
	}
}
