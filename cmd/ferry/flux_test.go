package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
)

// fluxLatest is Flux's image-reflector-controller's choice, written from
// its documented rules (internal/policy): the ImageRepository's exclusion
// list drops tags; filterTags.pattern keeps the tags it matches and
// filterTags.extract replaces each by its expansion; then semver takes the
// greatest strict semantic version (an optional "v") the range accepts,
// alphabetical sorts the values and takes the last (asc) or first (desc),
// numerical parses them as floats and takes the greatest (asc) or least
// (desc). It returns the original tag.
func fluxLatest(t *testing.T, tags []string, exclude []string, pattern, extract, strategy, arg string) string {
	t.Helper()
	values := map[string]string{} // value -> tag
	for _, tag := range tags {
		excluded := false
		for _, x := range exclude {
			if regexp.MustCompile(x).MatchString(tag) {
				excluded = true
			}
		}
		if excluded {
			continue
		}
		v := tag
		if pattern != "" {
			re := regexp.MustCompile(pattern)
			m := re.FindStringSubmatchIndex(tag)
			if m == nil {
				continue
			}
			if extract != "" {
				v = string(re.ExpandString(nil, extract, tag, m))
			}
		}
		values[v] = tag
	}
	var best string
	switch strategy {
	case "semver":
		c, err := semver.NewConstraint(arg)
		if err != nil {
			t.Fatal(err)
		}
		var latest *semver.Version
		for v := range values {
			if _, err := semver.StrictNewVersion(strings.TrimPrefix(v, "v")); err != nil {
				continue
			}
			sv, _ := semver.NewVersion(v)
			if c.Check(sv) && (latest == nil || sv.GreaterThan(latest)) {
				latest = sv
			}
		}
		if latest != nil {
			best = latest.Original()
		}
	case "alphabetical":
		var vs []string
		for v := range values {
			vs = append(vs, v)
		}
		sort.Strings(vs)
		if arg == "desc" {
			best = vs[0]
		} else {
			best = vs[len(vs)-1]
		}
	case "numerical":
		first := true
		var bv float64
		for v := range values {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("Flux fails a numerical policy on %q", v)
			}
			if first || (arg == "asc" && f > bv) || (arg == "desc" && f < bv) {
				best, bv, first = v, f, false
			}
		}
	}
	return values[best]
}

const fluxObjects = `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: podinfo, namespace: flux-system}
spec:
  image: HOST/acme/podinfo
  interval: 5m
  secretRef: {name: regcred}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: podinfo, namespace: flux-system, labels: {app: podinfo}}
spec:
  imageRepositoryRef: {name: podinfo}
  policy:
    semver: {range: '>=1.0.0'}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: builds, namespace: flux-system}
spec:
  image: HOST/acme/builds
  interval: 1m
  exclusionList: ['^.*\.sig$', '^dev-']
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: builds, namespace: flux-system}
spec:
  imageRepositoryRef: {name: builds}
  filterTags:
    pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)$'
    extract: '$ts'
  policy:
    numerical: {order: asc}
  digestReflectionPolicy: IfNotPresent
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: names, namespace: flux-system}
spec:
  imageRepositoryRef: {name: builds}
  policy:
    alphabetical: {order: desc}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: alpine, namespace: flux-system}
spec:
  imageRepositoryRef: {name: podinfo}
  filterTags:
    pattern: '^v?(?P<v>.*)-alpine$'
    extract: '$v'
  policy:
    semver: {range: '1.x'}
`

const fluxAutomation = `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: fleet, namespace: flux-system}
spec:
  interval: 30m
  sourceRef: {kind: GitRepository, name: flux-system}
  git:
    checkout: {ref: {branch: main}}
    commit:
      author: {email: fluxcdbot@users.noreply.github.com, name: fluxcdbot}
      messageTemplate: '{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}'
    push: {branch: main}
  update:
    path: ./apps
    strategy: Setters
`

const fluxDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, namespace: apps}
spec:
  template:
    spec:
      containers:
        - name: podinfo
          image: HOST/acme/podinfo:1.0.0 # {"$imagepolicy": "flux-system:podinfo"}
        - name: worker
          image: HOST/acme/builds:main-aaaaaaa-100 # {"$imagepolicy": "flux-system:builds"}
        - name: sidecar
          image: HOST/acme/podinfo:1.0.0-alpine # {"$imagepolicy": "flux-system:alpine"}
`

// TestFluxRepository: a repository as Flux left it — no .ferry, Flux's
// image objects beside the manifests, setter markers naming
// namespace:name — scans with the tags Flux's own rules choose, and
// updates the marked references.
func TestFluxRepository(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New()
	t.Cleanup(srv.Close)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	podinfo := []string{"1.0.0", "1.2", "v1.10.0", "1.9.0", "2.0.0-rc.1", "01.02.03", "latest",
		"1.4.0-alpine", "v1.5.1-alpine", "2.0.0-alpine", "1.6-alpine"}
	builds := []string{"main-aaaaaaa-100", "main-bbbbbbb-99", "main-ccccccc-1000", "main-ddddddd-1000.sig", "dev-zzz", "zeta", "alpha"}
	if _, err := srv.SeedDistinct(ctx, "acme/podinfo", podinfo...); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SeedDistinct(ctx, "acme/builds", builds...); err != nil {
		t.Fatal(err)
	}
	sig := []string{`^.*\.sig$`}
	want := map[string]string{
		"podinfo": fluxLatest(t, podinfo, sig, "", "", "semver", ">=1.0.0"),
		"builds":  fluxLatest(t, builds, []string{`^.*\.sig$`, `^dev-`}, `^main-[a-f0-9]+-(?P<ts>[0-9]+)$`, "$ts", "numerical", "asc"),
		"names":   fluxLatest(t, builds, []string{`^.*\.sig$`, `^dev-`}, "", "", "alphabetical", "desc"),
		"alpine":  fluxLatest(t, podinfo, sig, `^v?(?P<v>.*)-alpine$`, "$v", "semver", "1.x"),
	}
	// The traps: Flux ignores the coerced "1.2" and "01.02.03", orders
	// v1.10.0 above 1.9.0, and takes the prerelease only when asked.
	if want["podinfo"] != "v1.10.0" || want["builds"] != "main-ccccccc-1000" || want["names"] != "alpha" || want["alpine"] != "v1.5.1-alpine" {
		t.Fatalf("the oracle chose %v", want)
	}

	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"clusters/prod/flux-system/images.yaml":     strings.ReplaceAll(fluxObjects, "HOST", srv.Host),
		"clusters/prod/flux-system/automation.yaml": fluxAutomation,
		"clusters/prod/flux-system/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
			"resources: [images.yaml, automation.yaml]\n",
		"apps/podinfo/deployment.yaml": strings.ReplaceAll(fluxDeployment, "HOST", srv.Host),
	})

	code, out, errs := run(t, "scan", "--repo", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("scan: exit %d\n%s", code, errs)
	}
	var rep bot.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range rep.Policies {
		if p.Error != "" {
			t.Errorf("%s: %s", p.Name, p.Error)
		}
		got[p.Name] = p.Tag
		if p.Name == "builds" && p.Digest == "" {
			t.Errorf("builds: digestReflectionPolicy IfNotPresent gave no digest")
		}
	}
	if len(got) != len(want) {
		t.Fatalf("policies %v, want %v", got, want)
	}
	for name, tag := range want {
		if got[name] != tag {
			t.Errorf("policy %s chose %q; Flux chooses %q", name, got[name], tag)
		}
	}
	var notes []string
	for _, n := range rep.Notes {
		notes = append(notes, n.Field)
	}
	for _, f := range []string{"spec.secretRef", "spec.git.commit.messageTemplate", "spec.git.push.branch"} {
		if !slices.Contains(notes, f) {
			t.Errorf("no note on %s in %q", f, notes)
		}
	}

	// The markers Flux's setters would write are written.
	if code, _, errs := run(t, "update", "--repo", dir); code != 0 {
		t.Fatalf("update: exit %d\n%s", code, errs)
	}
	data, err := os.ReadFile(filepath.Join(dir, "apps/podinfo/deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"acme/podinfo:v1.10.0 # {\"$imagepolicy\": \"flux-system:podinfo\"}",
		"acme/builds:main-ccccccc-1000@sha256:",
		"acme/podinfo:v1.5.1-alpine # {\"$imagepolicy\": \"flux-system:alpine\"}",
	} {
		if !strings.Contains(string(data), line) {
			t.Errorf("deployment after update lacks %q:\n%s", line, data)
		}
	}
}

// TestNoPolicies: a wrong place never succeeds silently.
func TestNoPolicies(t *testing.T) {
	empty := t.TempDir()
	appsOnly := t.TempDir()
	writeTree(t, appsOnly, map[string]string{".ferry/apps.yaml": "apiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: a}\nspec: {source: {path: x}}\n"})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--repo", empty}, "no image policies: " + empty + " has no .ferry directory and no Flux ImagePolicy"},
		{[]string{"update", "--repo", empty, "--dry-run"}, "no image policies"},
		{[]string{"scan", "--repo", appsOnly}, "declares 1 apps, which `ferry sync` applies"},
		{[]string{"scan", "--repo", filepath.Join(empty, "nope")}, "repository " + filepath.Join(empty, "nope") + ": stat"},
		{[]string{"scan", "--repo", empty, "--policies", "/nope"}, "policy directory /nope: file does not exist"},
	} {
		code, _, errs := run(t, tc.args...)
		if code != exitConfig || !strings.Contains(errs, tc.want) || strings.Count(errs, "ferry:") != 1 {
			t.Errorf("ferry %s: exit %d, stderr %q; want exit %d and %q once", strings.Join(tc.args, " "), code, errs, exitConfig, tc.want)
		}
	}
}

// TestMarkersAndBrokenReferences: a marker naming no policy is an error
// with its file and line (a typo would otherwise never update anything), a
// marker for a policy that does not govern the file is a note under
// --explain, and a :tag marker on a whole image reference is refused, even
// with --force, instead of writing a broken reference.
func TestMarkersAndBrokenReferences(t *testing.T) {
	srv := seededRegistry(t)
	dir := t.TempDir()
	policies := strings.ReplaceAll(releasePolicy, "HOST", srv.Host) +
		"  update: {paths: ['apps/**']}\n"
	writeTree(t, dir, map[string]string{
		".ferry/policies.yaml": policies,
		"apps/web/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n" +
			"        - name: web\n          image: " + srv.Host + "/acme/web:v1.9.0 # {\"$imagepolicy\": \"ns:web:tag\"}\n" +
			"        - name: typo\n          workingDir: v1.9.0 # {\"$imagepolicy\": \"nosuch:tag\"}\n",
		"other/values.yaml": "image:\n  tag: v1.9.0 # {\"$imagepolicy\": \"web:tag\"}\n",
	})
	before, _ := os.ReadFile(filepath.Join(dir, "apps/web/deploy.yaml"))
	for _, args := range [][]string{{"update", "--repo", dir, "--explain"}, {"update", "--repo", dir, "--force", "--explain"}} {
		code, out, errs := run(t, args...)
		if code != exitFailure {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, exitFailure, out, errs)
		}
		for _, want := range []string{
			`error: apps/web/deploy.yaml:11: marker {"$imagepolicy": "nosuch:tag"}: no policy is named "nosuch" (policies: api, web)`,
			`note: other/values.yaml:2: marker {"$imagepolicy": "web:tag"}: policy "web" does not govern this file (its spec.update.paths)`,
			`apps/web/deploy.yaml:9 ` + srv.Host + `/acme/web:v1.9.0 (refused): "` + srv.Host + `/acme/web:v1.9.0" is not a tag, so a :tag marker cannot rewrite it`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, out)
			}
		}
		if !strings.Contains(out, "No reference was updated, and some could not be checked") {
			t.Errorf("%v: the summary does not admit the errors:\n%s", args, out)
		}
	}
	after, _ := os.ReadFile(filepath.Join(dir, "apps/web/deploy.yaml"))
	if string(after) != string(before) {
		t.Errorf("a broken reference was written:\n%s", after)
	}
}

// TestExitCode: --exit-code makes pending updates exit 1 for CI gates.
func TestExitCode(t *testing.T) {
	srv := seededRegistry(t)
	dir := scanRepo(t, srv.Host)
	for _, args := range [][]string{{"scan", "--exit-code"}, {"update", "--dry-run", "--exit-code"}} {
		if code, _, errs := run(t, append(args, "--repo", dir)...); code != exitDiff {
			t.Errorf("%v with updates pending: exit %d, want %d\n%s", args, code, exitDiff, errs)
		}
	}
	if code, _, errs := run(t, "update", "--repo", dir); code != exitOK {
		t.Fatalf("update: exit %d\n%s", code, errs)
	}
	for _, args := range [][]string{{"scan", "--exit-code"}, {"update", "--dry-run", "--exit-code"}} {
		if code, _, errs := run(t, append(args, "--repo", dir)...); code != exitOK {
			t.Errorf("%v with nothing pending: exit %d, want 0\n%s", args, code, errs)
		}
	}
}
