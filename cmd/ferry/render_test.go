package main

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
)

// TestRenderCommand: `ferry render` prints what a sync would apply, from
// git alone (no kubeconfig at all): YAML in apply order with the
// destination namespace, label and hash; Secret values masked unless
// --show-secrets; -o json a v1 List; --revision an earlier commit.
func TestRenderCommand(t *testing.T) {
	git := gitserver.New(t)
	secret := func(pw string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: " + pw + "}\n"
	}
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/apps.yaml":       appsYAML("shop"),
		"app/kustomization.yaml": "resources: [a.yaml, secret.yaml, gadget.yaml]\nnamePrefix: p-\n",
		"app/a.yaml":             cm("a", "1"),
		"app/secret.yaml":        secret("hunter2"),
		"app/gadget.yaml":        "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n",
	})
	first, _ := git.Head("manifests", "main")
	git.Commit("manifests", "main", "v2", map[string]string{"app/a.yaml": cm("a", "2")})
	t.Setenv("KUBECONFIG", t.TempDir()+"/none")

	code, out, errs := run(t, "render", "web", "--repo", url)
	if code != 0 {
		t.Fatalf("render: exit %d\n%s", code, errs)
	}
	t.Logf("ferry render web:\n%s", out)
	docs := strings.Split(strings.TrimPrefix(out, "---\n"), "\n---\n")
	if len(docs) != 3 || !strings.HasPrefix(docs[0], "# Source: kustomize build app\n") {
		t.Fatalf("documents: %d\n%s", len(docs), out)
	}
	var objs []map[string]any
	for _, d := range docs {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(d), &o); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	kinds := []string{objs[0]["kind"].(string), objs[1]["kind"].(string), objs[2]["kind"].(string)}
	if strings.Join(kinds, ",") != "Secret,ConfigMap,Gadget" {
		t.Errorf("order: %v", kinds)
	}
	md := objs[1]["metadata"].(map[string]any)
	if md["namespace"] != "shop" || md["name"] != "p-a" || md["labels"].(map[string]any)["ferry.dev/app"] != "web" ||
		md["annotations"].(map[string]any)["ferry.dev/applied-hash"] == "" || objs[1]["data"].(map[string]any)["v"] != "2" {
		t.Errorf("ConfigMap: %v", objs[1])
	}
	if strings.Contains(out, "hunter2") || objs[0]["stringData"].(map[string]any)["password"] != "***" {
		t.Errorf("the Secret is not masked: %v", objs[0])
	}
	if !strings.Contains(errs, "Gadget.example.com/p-g") || !strings.Contains(errs, "namespace is left as written") {
		t.Errorf("no warning for the unknown kind:\n%s", errs)
	}

	code, out, _ = run(t, "render", "web", "--repo", url, "--show-secrets", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "password: hunter2") {
		t.Errorf("--show-secrets: exit %d\n%s", code, out)
	}
	code, out, errs = run(t, "render", "web", "--repo", url, "--revision", first[:10], "-o", "json")
	var list struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || list.Kind != "List" || len(list.Items) != 3 ||
		list.Items[1]["data"].(map[string]any)["v"] != "1" {
		t.Fatalf("--revision -o json: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = run(t, "render", "adhoc", "--repo", url, "--app-path", "app/a.yaml", "--namespace", "x")
	if code != 0 || !strings.Contains(out, "namespace: x") || !strings.Contains(out, "# Source: app/a.yaml:1") {
		t.Errorf("--app-path: exit %d\n%s\n%s", code, out, errs)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"render", "web", "--repo", url, "--revision", "0123456789ab"}, exitFailure, `revision "0123456789ab" not found`},
		{[]string{"render", "web"}, 2, "--repo is required"},
		{[]string{"render", "nope", "--repo", url}, 2, `no app "nope"`},
	} {
		code, _, errs := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}
