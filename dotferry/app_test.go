package dotferry

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/document"
)

func TestLoadApps(t *testing.T) {
	set, err := Parse(".ferry/apps.yaml", []byte(`apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web-staging}
spec:
  source: {path: overlays/staging}
  destination: {namespace: web-staging, context: staging}
  syncPolicy: {automated: true, prune: true, selfHeal: true, interval: 2m, releasePinOnNewCommit: true}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: other}
spec:
  source: {repoURL: https://git.example.com/other.git, branch: release, path: deploy}
`))
	if err != nil {
		t.Fatal(err)
	}
	apps := WithRepository(set.Apps, "https://git.example.com/manifests.git", "main")
	want := []App{
		{Name: "other", RepoURL: "https://git.example.com/other.git", Branch: "release", Path: "deploy", Source: document.Source{File: ".ferry/apps.yaml", Line: 9}},
		{Name: "web-staging", RepoURL: "https://git.example.com/manifests.git", Branch: "main", Path: "overlays/staging",
			Namespace: "web-staging", Context: "staging", Automated: true, Prune: true, SelfHeal: true, Interval: 2 * time.Minute,
			ReleasePinOnNewCommit: true, Source: document.Source{File: ".ferry/apps.yaml", Line: 1}},
	}
	if !slices.Equal(apps, want) {
		t.Fatalf("apps = %+v\nwant %+v", apps, want)
	}
	if a, ok := FindApp(apps, "other"); !ok || a.Name != "other" {
		t.Errorf("FindApp: %+v %v", a, ok)
	}

	set, err = Parse(".ferry/bad.yaml", []byte(`apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: Bad_Name}
spec:
  source: {path: ../outside, revision: main}
  destination: {namespace: NotALabel}
  syncPolicy:
    prune: maybe
    interval: soon
  extra: 1
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: dup}
spec: {source: {path: a}}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: dup}
spec: {source: {path: b}}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {}
`))
	if set != nil {
		t.Fatalf("Parse returned a Set with errors")
	}
	var pe document.Errors
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	got := err.Error()
	for _, w := range []string{
		`.ferry/bad.yaml:3: metadata.name: invalid app name "Bad_Name"`,
		`.ferry/bad.yaml:5: spec.source.path: invalid path "../outside": it leaves the repository`,
		`.ferry/bad.yaml:5: spec.source.revision: unknown field`,
		`.ferry/bad.yaml:6: spec.destination.namespace: invalid namespace "NotALabel"`,
		`.ferry/bad.yaml:8: spec.syncPolicy.prune: must be true or false, got a string`,
		`.ferry/bad.yaml:9: spec.syncPolicy.interval: must be a positive duration`,
		`.ferry/bad.yaml:10: spec.extra: unknown field`,
		`.ferry/bad.yaml:17: metadata.name: app "dup" is also declared at .ferry/bad.yaml:12`,
		`.ferry/bad.yaml:22: metadata.name: required field is missing`,
		`.ferry/bad.yaml:22: spec: required field is missing`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
}
