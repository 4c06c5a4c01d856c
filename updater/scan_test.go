package updater

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const scanPolicies = `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: app
spec:
  image: ghcr.io/acme/app
  policy:
    semver: {range: '>=1.0.0'}
---
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: web
spec:
  image: ghcr.io/acme/web
  policy:
    semver: {range: '>=1.0.0'}
`

// writeFiles writes files (slash paths to contents) under root.
func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func scan(t testing.TB, root string, opts Options) *Result {
	t.Helper()
	res, err := Scan(context.Background(), root, parsePolicies(t, []byte(scanPolicies)), opts)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return res
}

func refFiles(res *Result) []string {
	var files []string
	for _, r := range res.References {
		files = append(files, r.File)
	}
	return slices.Compact(files)
}

func skippedAs(res *Result) map[string]string {
	m := make(map[string]string)
	for _, s := range res.Skipped {
		m[s.File] = s.Reason
	}
	return m
}

const appDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/app:1.0.0
`

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:1.0.0
`

// TestScanRepositoryLayout covers the read rule on a repository holding a
// Helm chart, a workflow, a compose file, ignored files and broken files.
func TestScanRepositoryLayout(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"charts/web/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
spec:
  template:
    spec:
      containers:
        - name: web
          image: "ghcr.io/acme/web:{{ .Values.image.tag }}"
`,
		"charts/web/templates/_helpers.tpl": "{{- define \"web.fullname\" -}}web{{- end -}}\n",
		"charts/web/values.yaml": `image:
  repository: ghcr.io/acme/web # {"$imagepolicy": "web:name"}
  tag: 1.0.0 # {"$imagepolicy": "web:tag"}
`,
		"charts/web/values-prod.yaml": "image:\n  tag: \"1.0.0\" # {\"$imagepolicy\": \"web:tag\"}\n",
		// Not a chart: its templates/ is read.
		"templates/app.yaml": appDeployment,
		".github/workflows/ci.yml": `name: ci
on: [push]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: docker build -t ghcr.io/acme/app:${{ github.sha }} .
`,
		"docker-compose.yml":     "services:\n  app:\n    image: ghcr.io/acme/app:1.0.0\n",
		"broken-unrelated.yaml":  "key: [unclosed\n  other: {\n",
		"README.md":              "ghcr.io/acme/app:1.0.0\n",
		"apps/app.yaml":          appDeployment,
		"apps/web.yml":           webDeployment,
		"apps/notes.yaml":        "# nothing governed here\nkey: value\n",
		"vendor/app.yaml":        appDeployment,
		"gen/app.generated.yaml": appDeployment,
		".ferryignore":           "# generated and vendored\nvendor/\n*.generated.yaml\n",
		".ferry/policies.yaml":   scanPolicies,
		".git/config":            "[core]\n",
		".git/app.yaml":          appDeployment,
	})

	res := scan(t, root, Options{Explain: true})
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	wantFiles := []string{"apps/app.yaml", "apps/web.yml", "charts/web/values-prod.yaml", "charts/web/values.yaml", "templates/app.yaml"}
	if diff := cmp.Diff(wantFiles, refFiles(res)); diff != "" {
		t.Errorf("files with references (-want +got):\n%s", diff)
	}
	wantSkipped := map[string]string{
		".ferry/":                  ReasonIgnored,
		".ferryignore":             ReasonNotManifest,
		".git/":                    ReasonIgnored,
		"README.md":                ReasonNotManifest,
		"apps/notes.yaml":          ReasonNoImage,
		"broken-unrelated.yaml":    ReasonNoImage,
		"charts/web/Chart.yaml":    ReasonNoImage,
		"charts/web/templates/":    ReasonChartTemplate,
		"gen/app.generated.yaml":   ReasonIgnored,
		"vendor/":                  ReasonIgnored,
		".github/workflows/ci.yml": "",
		"docker-compose.yml":       "",
	}
	got := skippedAs(res)
	for file, reason := range wantSkipped {
		if got[file] != reason {
			t.Errorf("%s: skipped as %q, want %q", file, got[file], reason)
		}
	}
	if res.Files != 13 {
		t.Errorf("Files = %d, want 13", res.Files)
	}
	// Parsed: the files holding a needle or a marker.
	if res.Parsed != 7 {
		t.Errorf("Parsed = %d, want 7", res.Parsed)
	}
	if res.Bytes == 0 {
		t.Error("Bytes = 0")
	}

	// Without Explain only the surprising skips are listed.
	quiet := skippedAs(scan(t, root, Options{}))
	want := map[string]string{
		"charts/web/templates/":  ReasonChartTemplate,
		"gen/app.generated.yaml": ReasonIgnored,
		"vendor/":                ReasonIgnored,
	}
	if diff := cmp.Diff(want, quiet); diff != "" {
		t.Errorf("skipped without Explain (-want +got):\n%s", diff)
	}
}

// TestScanBrokenFile: a file that names a governed image and does not parse
// blocks only its policies.
func TestScanBrokenFile(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/app.yaml": appDeployment,
		"apps/web.yaml": webDeployment,
		"apps/broken.yaml": `apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/app:1.0.0
         bad: indentation
`,
		"apps/marker-broken.yaml":         "a: [\nb: x # {\"$imagepolicy\": \"ns:web:tag\"}\n",
		"apps/unknown-marker-broken.yaml": "a: [\nb: x # {\"$imagepolicy\": \"nope\"}\n",
	})
	res := scan(t, root, Options{})
	want := []FileError{
		{File: "apps/broken.yaml", Line: 6, Policies: []string{"app"}},
		{File: "apps/marker-broken.yaml", Line: 2, Policies: []string{"web"}},
	}
	if diff := cmp.Diff(want, res.Errors, cmpopts.IgnoreFields(FileError{}, "Err")); diff != "" {
		t.Fatalf("errors (-want +got):\n%s", diff)
	}
	msg := res.Errors[0].Error()
	if !strings.HasPrefix(msg, "apps/broken.yaml:6: parsing YAML: ") || !strings.Contains(msg, "blocks policies app") {
		t.Errorf("error message %q", msg)
	}
	if strings.Contains(msg, "ghcr.io") {
		t.Errorf("error message %q quotes the file", msg)
	}

	pols := parsePolicies(t, []byte(scanPolicies))
	targets := map[string]Target{"app": {Policy: pols[0], Tag: "1.1.0"}, "web": {Policy: pols[1], Tag: "1.1.0"}}
	// Block only app: drop the marker file's error to see web update.
	res.Errors = res.Errors[:1]
	got := map[string]Status{}
	for _, d := range Plan(res, targets, false) {
		got[d.File] = d.Status
		if d.Status == StatusBlocked && !strings.Contains(d.Why, "apps/broken.yaml:6") {
			t.Errorf("blocked decision does not name the file: %q", d.Why)
		}
	}
	if diff := cmp.Diff(map[string]Status{"apps/app.yaml": StatusBlocked, "apps/web.yaml": StatusUpdate}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// TestScanParseAll: without the prefilter, files that cannot hold a
// governed reference are parsed, and still never an error.
func TestScanParseAll(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/app.yaml": appDeployment,
		"broken.yaml":   "a: [\n",
		"other.yaml":    "kind: ConfigMap\n",
	})
	res := scan(t, root, Options{ParseAll: true})
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	if res.Parsed != 3 || len(res.References) != 1 {
		t.Errorf("parsed %d files, found %d references; want 3 and 1", res.Parsed, len(res.References))
	}
}

func TestScanTooLarge(t *testing.T) {
	root := t.TempDir()
	big := appDeployment + "# " + strings.Repeat("x", 4096) + "\n"
	writeFiles(t, root, map[string]string{"big.yaml": big, "small.yaml": appDeployment})
	res := scan(t, root, Options{MaxFileSize: 1024})
	if diff := cmp.Diff([]string{"small.yaml"}, refFiles(res)); diff != "" {
		t.Errorf("files with references (-want +got):\n%s", diff)
	}
	if got := skippedAs(res)["big.yaml"]; got != ReasonTooLarge {
		t.Errorf("big.yaml skipped as %q", got)
	}
	if res.Bytes != int64(len(appDeployment)) {
		t.Errorf("Bytes = %d, want %d", res.Bytes, len(appDeployment))
	}
}

// TestScanAliasBomb: a document with many aliases is refused, not expanded.
func TestScanAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("image: ghcr.io/acme/app:1.0.0\na: &a [x, x, x, x, x, x, x, x, x, x]\n")
	prev := "a"
	for i := range 9 {
		name := string(rune('b' + i))
		b.WriteString(name + ": &" + name + " [")
		for j := range 12 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = name
	}
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"bomb.yaml": b.String(), "apps/app.yaml": appDeployment})
	start := time.Now()
	res := scan(t, root, Options{})
	if time.Since(start) > 10*time.Second {
		t.Errorf("scan took %v", time.Since(start))
	}
	if len(res.Errors) != 1 {
		t.Fatalf("errors: %v", res.Errors)
	}
	e := res.Errors[0]
	if e.File != "bomb.yaml" || !strings.Contains(e.Error(), "alias bomb") || !slices.Equal(e.Policies, []string{"app"}) {
		t.Errorf("error %v", e)
	}
}

// TestScanAliasesFollowed: an image set through an alias is found at its
// anchor, once.
func TestScanAliasesFollowed(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"pod.yaml": `x-image: &img ghcr.io/acme/app:1.0.0
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: &cs
    - name: a
      image: &own ghcr.io/acme/app:1.0.0
    - name: b
      image: *own
  initContainers: *cs
`})
	res := scan(t, root, Options{})
	if len(res.References) != 1 || res.References[0].Line != 9 || res.References[0].Column != 19 {
		t.Fatalf("references: %+v", res.References)
	}
}

// TestScanCancelled: a cancelled context stops the scan.
func TestScanCancelled(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"apps/app.yaml": appDeployment})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Scan(ctx, root, parsePolicies(t, []byte(scanPolicies)), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if _, err := Scan(context.Background(), filepath.Join(root, "missing"), nil, Options{}); err == nil {
		t.Error("no error for a missing root")
	}
}

// TestScanDoesNotWrite: reading manifests never writes them.
func TestScanDoesNotWrite(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "testdata/styles/original", root)
	before := readTree(t, root)
	infos := map[string]time.Time{}
	for name := range before {
		fi, _ := os.Stat(filepath.Join(root, name))
		infos[name] = fi.ModTime()
	}
	scan(t, root, Options{Explain: true})
	if diff := cmp.Diff(before, readTree(t, root)); diff != "" {
		t.Errorf("Scan changed files:\n%s", diff)
	}
	for name, mt := range infos {
		if fi, _ := os.Stat(filepath.Join(root, name)); !fi.ModTime().Equal(mt) {
			t.Errorf("%s was written", name)
		}
	}
}

// TestScanMarkerRules covers the marker forms and what a marker binds.
func TestScanMarkerRules(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"values.yaml": `a: ghcr.io/other/thing:1.0.0 # {"$imagepolicy": "app"}
b: 1.0.0 # {"$imagepolicy": "ns:app:tag"}
c: ghcr.io/acme/app # {"$imagepolicy": "app:name"}
d: sha256:0000000000000000000000000000000000000000000000000000000000000000 # {"$imagepolicy": "app:digest"}
e: ghcr.io/acme/app:1.0.0 # {"$imagepolicy": "ns:app"}
f: ghcr.io/acme/app:1.0.0 # {"$imagepolicy": "missing"}
g: ghcr.io/acme/app:1.0.0 # {"$imagepolicy": "ns:app:bogus"}
h: ghcr.io/acme/app:1.0.0 #{"$imagepolicy": "app"}
j: |  # {"$imagepolicy": "app:tag"}
  1.0.0
k:
  - 1.0.0 # {"$imagepolicy": "web:tag"}
`})
	res := scan(t, root, Options{})
	type row struct {
		Line      int
		FieldPath string
		Form      Form
		Policy    string
		Bad       bool
	}
	var got []row
	for _, r := range res.References {
		got = append(got, row{r.Line, r.FieldPath, r.Form, r.Policy, r.bad != ""})
	}
	want := []row{
		{1, "a", FormImage, "app", false},
		{2, "b", FormTag, "app", false},
		{3, "c", FormName, "app", false},
		{4, "d", FormDigest, "app", false},
		{5, "e", FormImage, "app", false},
		{8, "h", FormImage, "app", false},
		{9, "j", FormTag, "app", true},
		{12, "k[0]", FormTag, "web", false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("references (-want +got):\n%s", diff)
	}
}
