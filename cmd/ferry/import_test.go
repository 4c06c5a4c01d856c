package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
)

// argoLatest is Argo CD Image Updater's choice, written from its
// documented rules (registry-scanner's GetNewestVersionFromTags): tags the
// allow-tags expression does not match, or an ignore-tags glob matches
// (filepath.Match), drop out; semver parses leniently (semver.NewVersion),
// checks the constraint when there is one (without one every version takes
// part, prereleases too) and takes the greatest; alphabetical takes the
// last in byte order; digest follows the constraint's tag.
func argoLatest(t *testing.T, tags []string, allow string, ignore []string, strategy, constraint string) string {
	t.Helper()
	var cands []string
	for _, tag := range tags {
		if allow != "" && !regexp.MustCompile(allow).MatchString(tag) {
			continue
		}
		ignored := false
		for _, g := range ignore {
			if ok, _ := filepath.Match(g, tag); ok {
				ignored = true
			}
		}
		if !ignored {
			cands = append(cands, tag)
		}
	}
	switch strategy {
	case "semver":
		var c *semver.Constraints
		if constraint != "" {
			c, _ = semver.NewConstraint(constraint)
		}
		var best *semver.Version
		for _, tag := range cands {
			v, err := semver.NewVersion(tag)
			if err != nil || c != nil && !c.Check(v) {
				continue
			}
			if best == nil || v.GreaterThan(best) {
				best = v
			}
		}
		if best == nil {
			return ""
		}
		return best.Original()
	case "alphabetical":
		sort.Strings(cands)
		return cands[len(cands)-1]
	case "digest":
		for _, tag := range cands {
			if tag == constraint {
				return tag
			}
		}
	}
	return ""
}

const argoApps = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: web=HOST/acme/web:~1.2
    argocd-image-updater.argoproj.io/web.helm.image-name: image.repository
    argocd-image-updater.argoproj.io/web.helm.image-tag: image.tag
    argocd-image-updater.argoproj.io/web.pull-secret: pullsecret:argocd/regcred
    argocd-image-updater.argoproj.io/write-back-method: git
    argocd-image-updater.argoproj.io/write-back-target: helmvalues
spec:
  project: default
  source: {repoURL: https://git.example.com/manifests.git, path: charts/web, targetRevision: main}
  destination: {server: https://kubernetes.default.svc, namespace: web}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: api
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: api=HOST/acme/api, nightly=HOST/acme/worker:nightly
    argocd-image-updater.argoproj.io/api.allow-tags: regexp:^v?[0-9]
    argocd-image-updater.argoproj.io/api.ignore-tags: '*-debug, v0.*'
    argocd-image-updater.argoproj.io/api.kustomize.image-name: HOST/acme/api
    argocd-image-updater.argoproj.io/nightly.update-strategy: digest
    argocd-image-updater.argoproj.io/nightly.kustomize.image-name: worker
    argocd-image-updater.argoproj.io/nightly.force-update: "true"
    argocd-image-updater.argoproj.io/write-back-method: git:secret:argocd/git-creds
    argocd-image-updater.argoproj.io/write-back-target: kustomization
spec:
  source: {repoURL: https://git.example.com/manifests.git, path: overlays/prod}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: batch-prod, namespace: argocd, labels: {team: data}}
spec:
  source: {repoURL: https://git.example.com/manifests.git, path: charts/batch}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: names, namespace: argocd}
spec:
  source:
    repoURL: https://git.example.com/manifests.git
    path: charts/names
    helm:
      parameters:
        - name: image.tag
          value: alpha
  destination: {namespace: names}
`

const argoCR = `apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata: {name: data, namespace: argocd}
spec:
  commonUpdateSettings: {updateStrategy: semver}
  writeBackConfig:
    method: git
    gitConfig: {branch: main, writeBackTarget: 'helmvalues:values-prod.yaml'}
  applicationRefs:
    - namePattern: 'batch-*'
      labelSelectors: {matchLabels: {team: data}}
      images:
        - alias: batch
          imageName: HOST/acme/batch:1.x
          manifestTargets: {helm: {name: image.repository, tag: image.tag}}
    - namePattern: names
      commonUpdateSettings: {updateStrategy: alphabetical, ignoreTags: ['latest']}
      writeBackConfig: {method: argocd}
      images:
        - alias: names
          imageName: HOST/acme/names
`

// TestImportArgoCDImageUpdater: an Argo CD Image Updater setup (v0.x
// annotations and a v1 ImageUpdater) converts into policies that ferry
// scan accepts and that choose the tags Argo CD Image Updater chooses; the
// markers land on the values it wrote; a second import changes nothing.
func TestImportArgoCDImageUpdater(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New()
	t.Cleanup(srv.Close)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	tags := map[string][]string{
		"acme/web":    {"1.2.0", "1.2.9", "v1.2.10", "1.3.0", "1.2.11-rc.1", "latest"},
		"acme/api":    {"v0.9.0", "1.0.0", "1.4.0", "2.0.0-rc.1", "1.5.0-debug", "build-7", "1.2"},
		"acme/worker": {"nightly", "stable", "1.0.0"},
		"acme/batch":  {"1.0.0", "1.7.3", "2.0.0", "1.8.0-beta.1"},
		"acme/names":  {"alpha", "bravo", "charlie", "latest"},
	}
	for repo, ts := range tags {
		if _, err := srv.SeedDistinct(ctx, repo, ts...); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		"web-web":          argoLatest(t, tags["acme/web"], "", nil, "semver", "~1.2"),
		"api-api":          argoLatest(t, tags["acme/api"], "^v?[0-9]", []string{"*-debug", "v0.*"}, "semver", ""),
		"api-nightly":      argoLatest(t, tags["acme/worker"], "", nil, "digest", "nightly"),
		"batch-prod-batch": argoLatest(t, tags["acme/batch"], "", nil, "semver", "1.x"),
		"names-names":      argoLatest(t, tags["acme/names"], "", []string{"latest"}, "alphabetical", ""),
	}
	// The traps: v1.2.10 above 1.2.9, a prerelease taken without a
	// constraint, the coerced "1.2" parsed, ignore-tags globs.
	if want["web-web"] != "v1.2.10" || want["api-api"] != "2.0.0-rc.1" || want["batch-prod-batch"] != "1.7.3" || want["names-names"] != "charlie" {
		t.Fatalf("the oracle chose %v", want)
	}

	dir := t.TempDir()
	h := srv.Host
	writeTree(t, dir, map[string]string{
		"argocd/apps.yaml":                 strings.ReplaceAll(argoApps, "HOST", h),
		"argocd/imageupdater.yaml":         strings.ReplaceAll(argoCR, "HOST", h),
		"charts/web/Chart.yaml":            "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"charts/web/values.yaml":           "image:\n  repository: " + h + "/acme/web\n  tag: 1.2.0\nreplicas: 2\n",
		"charts/batch/Chart.yaml":          "apiVersion: v2\nname: batch\nversion: 0.1.0\n",
		"charts/batch/values-prod.yaml":    "image:\n  repository: " + h + "/acme/batch\n  tag: \"1.0.0\"\n",
		"overlays/prod/kustomization.yaml": "resources: [../../base]\nimages:\n  - name: " + h + "/acme/api\n    newTag: 1.0.0\n  - name: worker\n    newName: " + h + "/acme/worker\n    newTag: nightly\n    digest: sha256:" + strings.Repeat("0", 64) + "\n",
	})

	code, out, errs := run(t, "import", "argocd-image-updater", "--repo", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
	var res importResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	var unmapped []string
	for _, u := range res.Plan.Unmapped {
		unmapped = append(unmapped, u.App+"/"+u.Setting)
	}
	for _, u := range []string{"web/pull-secret", "api/force-update"} {
		if !contains(unmapped, u) {
			t.Errorf("unmapped %v lacks %s", unmapped, u)
		}
	}

	code, out, errs = run(t, "scan", "--repo", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("scan after import: exit %d\n%s%s", code, out, errs)
	}
	var rep bot.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range rep.Policies {
		got[p.Name] = p.Tag
		if len(p.References) == 0 {
			t.Errorf("policy %s governs no reference", p.Name)
		}
	}
	for name, tag := range want {
		if got[name] != tag {
			t.Errorf("policy %s chose %q; Argo CD Image Updater chooses %q", name, got[name], tag)
		}
	}

	if code, _, errs := run(t, "update", "--repo", dir); code != 0 {
		t.Fatalf("update: exit %d\n%s", code, errs)
	}
	for file, line := range map[string]string{
		"charts/web/values.yaml":           `tag: v1.2.10 # {"$imagepolicy": "web-web:tag"}`,
		"charts/batch/values-prod.yaml":    `tag: "1.7.3" # {"$imagepolicy": "batch-prod-batch:tag"}`,
		"overlays/prod/kustomization.yaml": `newTag: 2.0.0-rc.1 # {"$imagepolicy": "api-api:tag"}`,
		"argocd/apps.yaml":                 `value: charlie # {"$imagepolicy": "names-names:tag"}`,
	} {
		data, _ := os.ReadFile(filepath.Join(dir, file))
		if !strings.Contains(string(data), line) {
			t.Errorf("%s lacks %q:\n%s", file, line, data)
		}
	}
	// Importing again changes nothing (the markers are there, the
	// policies file is the same).
	if code, out, errs := run(t, "import", "argocd-image-updater", "--repo", dir, "-o", "json"); code != 0 || !strings.Contains(out, `"written": []`) {
		t.Errorf("second import: exit %d\n%s%s", code, out, errs)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
