package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/bot"
)

// A manifest repository as they are in real life: a Helm chart with Go
// templates, CI workflows, a docker-compose file, broken YAML nobody noticed,
// an ignore file and a symlink out of the repository.
func messyRepo(t *testing.T, host string) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.yaml")
	if err := os.WriteFile(secret, []byte("image: "+host+"/acme/api:release.20240101\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		".ferry/policies.yaml":  strings.ReplaceAll(releasePolicy, "HOST", host),
		"apps/api/deploy.yaml":  strings.ReplaceAll(deployment, "HOST", host),
		"charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"charts/web/values.yaml": "image:\n  repository: " + host + "/acme/web # {\"$imagepolicy\": \"web:name\"}\n" +
			"  tag: v1.9.0 # {\"$imagepolicy\": \"web:tag\"}\n",
		"charts/web/templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n" +
			"        - image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n{{- if .Values.extra }}\n  extra: true\n{{- end }}\n",
		"charts/web/templates/_helpers.tpl": "{{- define \"web.name\" -}}web{{- end -}}\n",
		".github/workflows/ci.yml":          "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: docker build -t " + host + "/acme/api:${{ github.sha }} .\n",
		"docker-compose.yml":                "services:\n  api:\n    image: " + host + "/acme/api:release.20240101\n",
		"vendor/crds/broken.yaml":           "apiVersion: v1\nkind: ConfigMap\ndata:\n  key: [unclosed\n",
		"generated/ignored.yaml":            "kind: Pod\nspec:\n  containers:\n    - image: " + host + "/acme/api:release.20240101\n",
		".ferryignore":                      "generated/\n",
		"README.md":                         "# manifests\n",
	}
	writeTree(t, dir, files)
	if err := os.Symlink(secret, filepath.Join(dir, "apps/api/linked.yaml")); err != nil {
		t.Fatal(err)
	}
	return dir, files
}

func TestScanAndUpdateAMessyRepository(t *testing.T) {
	reg := seededRegistry(t)
	dir, files := messyRepo(t, reg.Host)

	code, out, errs := run(t, "scan", "--repo", dir, "-o", "json", "--explain")
	if code != 0 {
		t.Fatalf("scan: exit %d\n%s\n%s", code, out, errs)
	}
	var rep bot.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{}
	for _, p := range rep.Policies {
		for _, r := range p.References {
			refs[r.File] += r.Current + " "
		}
	}
	if len(refs) != 2 || refs["apps/api/deploy.yaml"] == "" || !strings.Contains(refs["charts/web/values.yaml"], "v1.9.0") {
		t.Errorf("references found in %v; want only the deployment and the chart values", refs)
	}
	skipped := map[string]string{}
	for _, s := range rep.Skipped {
		skipped[s.File] = s.Reason
	}
	for file, reason := range map[string]string{
		"generated/":              "ignored",
		"charts/web/templates/":   "chart template",
		"apps/api/linked.yaml":    "symlink outside the repository",
		"vendor/crds/broken.yaml": "no governed image",
	} {
		if skipped[file] != reason {
			t.Errorf("%s skipped as %q, want %q", file, skipped[file], reason)
		}
	}

	code, out, errs = run(t, "update", "--repo", dir)
	if code != 0 {
		t.Fatalf("update: exit %d\n%s\n%s", code, out, errs)
	}
	for name, before := range files {
		after, _ := os.ReadFile(filepath.Join(dir, name))
		want := before
		switch name {
		case "apps/api/deploy.yaml", "charts/web/values.yaml":
			want = strings.NewReplacer("release.20240101", "release.20240301", "v1.9.0", "v1.10.0").Replace(before)
		}
		if string(after) != want {
			t.Errorf("%s after update:\n%s\nwant:\n%s", name, after, want)
		}
	}
}

func TestABrokenGovernedFileBlocksOnlyItsPolicy(t *testing.T) {
	reg := seededRegistry(t)
	dir, _ := messyRepo(t, reg.Host)
	broken := "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - image: " + reg.Host + "/acme/api:release.20240101\n          args: [unclosed\n"
	writeTree(t, dir, map[string]string{"apps/api/broken.yaml": broken})

	code, out, _ := run(t, "update", "--repo", dir, "-o", "json")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailure, out)
	}
	var res updateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Report.FileErrors) != 1 || res.Report.FileErrors[0].File != "apps/api/broken.yaml" || res.Report.FileErrors[0].Line == 0 ||
		strings.Join(res.Report.FileErrors[0].Policies, ",") != "api" {
		t.Errorf("file errors = %+v", res.Report.FileErrors)
	}
	deploy, _ := os.ReadFile(filepath.Join(dir, "apps/api/deploy.yaml"))
	values, _ := os.ReadFile(filepath.Join(dir, "charts/web/values.yaml"))
	if !strings.Contains(string(deploy), "api:release.20240101") || !strings.Contains(string(deploy), "web:v1.10.0") {
		t.Errorf("want the blocked policy's image left alone and the other policy's image updated:\n%s", deploy)
	}
	if !strings.Contains(string(values), "tag: v1.10.0") {
		t.Errorf("the unaffected policy was not updated:\n%s", values)
	}
}
