package hooks

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrygitops/ferry/deploy/render"
)

func TestRead(t *testing.T) {
	bhc := []DeletePolicy{BeforeHookCreation}
	for _, tc := range []struct {
		name string
		ann  map[string]string
		want Info
		err  string
	}{
		{name: "none", ann: nil, want: Info{}},
		{name: "wave", ann: map[string]string{AnnotationSyncWave: "-3"}, want: Info{Wave: -3}},
		{name: "wave spaces", ann: map[string]string{AnnotationSyncWave: " 7 "}, want: Info{Wave: 7}},
		{name: "bad wave", ann: map[string]string{AnnotationSyncWave: "first"}, err: `annotation argocd.argoproj.io/sync-wave: "first" is not an integer`},
		{name: "presync default policy", ann: map[string]string{AnnotationHook: "PreSync"}, want: Info{Phases: []Phase{PreSync}, Policies: bhc}},
		{name: "list", ann: map[string]string{AnnotationHook: "PreSync, PostSync,PreSync", AnnotationDeletePolicy: "HookSucceeded,HookFailed", AnnotationSyncWave: "2"},
			want: Info{Wave: 2, Phases: []Phase{PreSync, PostSync}, Policies: []DeletePolicy{HookSucceeded, HookFailed}}},
		{name: "sync and syncfail", ann: map[string]string{AnnotationHook: "Sync,SyncFail"}, want: Info{Phases: []Phase{Sync, SyncFail}, Policies: bhc}},
		{name: "skip", ann: map[string]string{AnnotationHook: "Skip"}, want: Info{Skip: true, SkipReason: "argocd.argoproj.io/hook: Skip"}},
		{name: "skip wins", ann: map[string]string{AnnotationHook: "PreSync,Skip"}, want: Info{Skip: true, SkipReason: "argocd.argoproj.io/hook: Skip"}},
		{name: "delete hooks not run", ann: map[string]string{AnnotationHook: "PreDelete"}, want: Info{Skip: true, SkipReason: "argocd.argoproj.io/hook: PreDelete hooks are not run"}},
		{name: "lower case phase", ann: map[string]string{AnnotationHook: "presync"}, err: `"presync" is none of PostSync, PreSync, Sync, SyncFail, Skip`},
		{name: "empty item", ann: map[string]string{AnnotationHook: "PreSync,"}, err: `"PreSync," has an empty item`},
		{name: "bad policy", ann: map[string]string{AnnotationHook: "PostSync", AnnotationDeletePolicy: "OnSuccess"},
			err: `annotation argocd.argoproj.io/hook-delete-policy: "OnSuccess" names no delete policy: "OnSuccess" is none of BeforeHookCreation, HookFailed, HookSucceeded`},
		{name: "policy of a non-hook is ignored", ann: map[string]string{AnnotationDeletePolicy: "whatever"}, want: Info{}},
		{name: "helm pre", ann: map[string]string{AnnotationHelmHook: "pre-install,pre-upgrade", AnnotationHelmWeight: "-5", AnnotationHelmPolicy: "hook-succeeded"},
			want: Info{Wave: -5, Phases: []Phase{PreSync}, Policies: []DeletePolicy{HookSucceeded}, Helm: true}},
		{name: "helm post default policy", ann: map[string]string{AnnotationHelmHook: "post-install"}, want: Info{Phases: []Phase{PostSync}, Policies: bhc, Helm: true}},
		{name: "helm both policies", ann: map[string]string{AnnotationHelmHook: "post-upgrade", AnnotationHelmPolicy: "before-hook-creation,hook-failed", AnnotationDeletePolicy: "HookSucceeded"},
			want: Info{Phases: []Phase{PostSync}, Policies: []DeletePolicy{HookSucceeded, BeforeHookCreation, HookFailed}, Helm: true}},
		{name: "helm test not run", ann: map[string]string{AnnotationHelmHook: "test"}, want: Info{Skip: true, SkipReason: "helm.sh/hook: test hooks are not run"}},
		{name: "helm delete not run", ann: map[string]string{AnnotationHelmHook: "pre-delete,post-delete"}, want: Info{Skip: true, SkipReason: "helm.sh/hook: pre-delete,post-delete hooks are not run"}},
		{name: "helm mixed", ann: map[string]string{AnnotationHelmHook: "pre-install,pre-delete"}, want: Info{Phases: []Phase{PreSync}, Policies: bhc, Helm: true}},
		{name: "helm crd-install is ordinary", ann: map[string]string{AnnotationHelmHook: "crd-install"}, want: Info{}},
		{name: "helm unknown", ann: map[string]string{AnnotationHelmHook: "pre-instal"}, err: `annotation helm.sh/hook: "pre-instal" names no hook Ferry knows`},
		{name: "helm bad policy", ann: map[string]string{AnnotationHelmHook: "pre-install", AnnotationHelmPolicy: "HookSucceeded"}, err: `annotation helm.sh/hook-delete-policy: "HookSucceeded" names no delete policy`},
		{name: "helm bad weight", ann: map[string]string{AnnotationHelmHook: "pre-install", AnnotationHelmWeight: "1.5"}, err: `annotation helm.sh/hook-weight: "1.5" is not an integer`},
		{name: "argo hook wins over helm", ann: map[string]string{AnnotationHook: "PostSync", AnnotationHelmHook: "pre-install", AnnotationHelmWeight: "3", AnnotationSyncWave: "1"},
			want: Info{Wave: 1, Phases: []Phase{PostSync}, Policies: bhc}},
		{name: "helm weight on an ordinary object", ann: map[string]string{AnnotationHelmWeight: "4"}, want: Info{Wave: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(tc.ann)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
		})
	}
}

func manifest(kind, name, source string, ann map[string]string) render.Manifest {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": name, "namespace": "ns"}}}
	if ann != nil {
		u.SetAnnotations(ann)
	}
	return render.Manifest{Key: render.KeyOf(u), Object: u, Source: source}
}

func TestSplitRendered(t *testing.T) {
	plain := render.Rendered{Manifests: []render.Manifest{
		manifest("ConfigMap", "a", "a.yaml:1", map[string]string{"other": "x"}),
		manifest("ConfigMap", "b", "b.yaml:1", nil),
	}}
	sp, err := SplitRendered(plain)
	if err != nil || sp.Phased() || &sp.Rendered.Manifests[0] != &plain.Manifests[0] {
		t.Fatalf("plain render: %v %+v", err, sp)
	}

	r := render.Rendered{Manifests: []render.Manifest{
		manifest("ConfigMap", "a", "a.yaml:1", map[string]string{AnnotationSyncWave: "1"}),
		manifest("ConfigMap", "b", "a.yaml:5", nil),
		manifest("ConfigMap", "skip", "a.yaml:9", map[string]string{AnnotationHook: "Skip"}),
		manifest("Pod", "migrate", "hooks.yaml:1", map[string]string{AnnotationHook: "PreSync"}),
		manifest("Pod", "test", "hooks.yaml:20", map[string]string{AnnotationHelmHook: "test-success"}),
	}}
	sp, err = SplitRendered(r)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range sp.Rendered.Manifests {
		names = append(names, m.Key.Name)
	}
	if !cmp.Equal(names, []string{"a", "b"}) || !sp.Phased() || sp.Wave(sp.Rendered.Manifests[0].Key) != 1 || sp.Wave(sp.Rendered.Manifests[1].Key) != 0 {
		t.Errorf("objects %v, waves %v", names, sp.Waves)
	}
	if len(sp.Hooks) != 1 || sp.Hooks[0].Key.Name != "migrate" || !sp.Hooks[0].In(PreSync) {
		t.Errorf("hooks = %+v", sp.Hooks)
	}
	if len(sp.Skipped) != 2 || sp.Skipped[1].SkipReason != "helm.sh/hook: test-success hooks are not run" {
		t.Errorf("skipped = %+v", sp.Skipped)
	}
	if len(r.Manifests) != 5 {
		t.Error("the render was changed")
	}

	bad := render.Rendered{Manifests: []render.Manifest{
		manifest("ConfigMap", "a", "app/a.yaml:3", map[string]string{AnnotationSyncWave: "one"}),
		manifest("Job", "m", "app/job.yaml:12", map[string]string{AnnotationHook: "PreSync", AnnotationDeletePolicy: "Never"}),
	}}
	_, err = SplitRendered(bad)
	for _, want := range []string{
		`app/a.yaml:3: ConfigMap/ns/a: annotation argocd.argoproj.io/sync-wave: "one" is not an integer`,
		`app/job.yaml:12: Job/ns/m: annotation argocd.argoproj.io/hook-delete-policy: "Never" names no delete policy`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// BenchmarkSplitRendered4000 reads the annotations of a render of 4,000
// ordinary objects (each with an annotation that is not a hook's): the
// cost every sync without hooks pays.
//
//	go test -run '^$' -bench SplitRendered -benchmem ./deploy/hooks/
func BenchmarkSplitRendered4000(b *testing.B) {
	var r render.Rendered
	for i := range 4000 {
		r.Manifests = append(r.Manifests, manifest("ConfigMap", strings.Repeat("x", i%7+1)+strconv.Itoa(i), "f.yaml:1", map[string]string{render.AnnotationAppliedHash: "0123456789abcdef"}))
	}
	for b.Loop() {
		sp, err := SplitRendered(r)
		if err != nil || sp.Phased() {
			b.Fatal(err)
		}
	}
}
