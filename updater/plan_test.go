package updater

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrygitops/ferry/image"
)

const planPolicies = `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: semver
spec:
  image: ghcr.io/acme/app
  policy:
    semver: {}
---
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: pushed
spec:
  image: ghcr.io/acme/app
  policy:
    pushedAt: {}
---
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: pinned
spec:
  image: ghcr.io/acme/app
  digest: true
  policy:
    semver: {}
`

var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
)

func TestPlan(t *testing.T) {
	pols := parsePolicies(t, []byte(planPolicies))
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	listing := []image.Tag{
		{Name: "1.0.0", Digest: digestA, PushedAt: t0},
		{Name: "1.1.0", Digest: digestB, PushedAt: t0.Add(time.Hour)},
	}
	targets := map[string]Target{
		"semver": {Policy: pols[0], Tag: "1.1.0", Tags: listing},
		"pushed": {Policy: pols[1], Tag: "1.1.0", Tags: listing},
		"pinned": {Policy: pols[2], Tag: "1.1.0", Digest: digestB, Tags: listing},
		"empty":  {Policy: pols[0]},
	}
	img := func(policy, cur string) Reference {
		r, _ := image.Parse(cur)
		return Reference{File: "f.yaml", Policy: policy, Form: FormImage, Current: cur, Image: r}
	}
	part := func(policy string, form Form, cur string, group int) Reference {
		return Reference{File: "f.yaml", Policy: policy, Form: form, Current: cur, group: group}
	}
	type row struct {
		Status Status
		Wanted string
	}
	tests := []struct {
		name  string
		ref   Reference
		force bool
		want  row
		why   string
	}{
		{"update keeps the name as written", img("semver", "ghcr.io/acme/app:1.0.0"), false, row{StatusUpdate, "ghcr.io/acme/app:1.1.0"}, ""},
		{"current", img("semver", "ghcr.io/acme/app:1.1.0"), false, row{StatusCurrent, "ghcr.io/acme/app:1.1.0"}, ""},
		{"ahead", img("semver", "ghcr.io/acme/app:1.2.0"), false, row{StatusAhead, "ghcr.io/acme/app:1.1.0"}, `current tag "1.2.0" is newer than chosen "1.1.0"`},
		{"same rank other spelling", img("semver", "ghcr.io/acme/app:v1.1.0"), false, row{StatusCurrent, "ghcr.io/acme/app:1.1.0"}, "ranks equal"},
		{"unmanaged", img("semver", "ghcr.io/acme/app:latest"), false, row{StatusUnmanaged, "ghcr.io/acme/app:1.1.0"}, "cannot be ordered"},
		{"forced", img("semver", "ghcr.io/acme/app:latest"), true, row{StatusUpdate, "ghcr.io/acme/app:1.1.0"}, "forced"},
		{"forced never downgrades", img("semver", "ghcr.io/acme/app:2.0.0"), true, row{StatusAhead, "ghcr.io/acme/app:1.1.0"}, ""},
		{"bare repository gets a tag", img("semver", "ghcr.io/acme/app"), false, row{StatusUpdate, "ghcr.io/acme/app:1.1.0"}, ""},
		{"stale digest dropped", img("semver", "ghcr.io/acme/app:1.0.0@"+digestA), false, row{StatusUpdate, "ghcr.io/acme/app:1.1.0"}, "dropping the current digest"},
		{"digest policy pins", img("pinned", "ghcr.io/acme/app:1.0.0"), false, row{StatusUpdate, "ghcr.io/acme/app:1.1.0@" + digestB}, ""},
		{"digest-only ranked by its tag", img("pinned", "ghcr.io/acme/app@"+digestA), false, row{StatusUpdate, "ghcr.io/acme/app:1.1.0@" + digestB}, ""},
		{"same tag new digest", img("pinned", "ghcr.io/acme/app:1.1.0@"+digestA), false, row{StatusUpdate, "ghcr.io/acme/app:1.1.0@" + digestB}, ""},
		{"pushedAt uses the listing", img("pushed", "ghcr.io/acme/app:1.0.0"), false, row{StatusUpdate, "ghcr.io/acme/app:1.1.0"}, ""},
		{"pushedAt unknown tag", img("pushed", "ghcr.io/acme/app:0.9.0"), false, row{StatusUnmanaged, "ghcr.io/acme/app:1.1.0"}, ""},
		{"not an image", Reference{Policy: "semver", Form: FormImage, Current: "{{ .Values.image }}"}, false, row{StatusUnmanaged, ""}, "not an image reference"},
		{"no target", img("missing", "ghcr.io/acme/app:1.0.0"), false, row{StatusNoTarget, ""}, "chose no tag"},
		{"empty target", img("empty", "ghcr.io/acme/app:1.0.0"), false, row{StatusNoTarget, ""}, ""},
		{"tag", part("semver", FormTag, "1.0.0", 0), false, row{StatusUpdate, "1.1.0"}, ""},
		{"tag ahead", part("semver", FormTag, "3.0.0", 0), false, row{StatusAhead, "1.1.0"}, ""},
		{"name never changes", part("semver", FormName, "ghcr.io/acme/app", 0), false, row{StatusCurrent, "ghcr.io/acme/app"}, ""},
		{"digest", part("pinned", FormDigest, digestA, 0), false, row{StatusUpdate, digestB}, ""},
		{"digest without target digest", part("semver", FormDigest, digestA, 0), false, row{StatusNoTarget, ""}, "no digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := Plan(&Result{References: []Reference{tt.ref}}, targets, tt.force)
			if len(ds) != 1 {
				t.Fatalf("%d decisions", len(ds))
			}
			if diff := cmp.Diff(tt.want, row{ds[0].Status, ds[0].Wanted}); diff != "" {
				t.Errorf("(-want +got):\n%s\nwhy: %s", diff, ds[0].Why)
			}
			if !strings.Contains(ds[0].Why, tt.why) {
				t.Errorf("why %q does not say %q", ds[0].Why, tt.why)
			}
		})
	}

	t.Run("groups", func(t *testing.T) {
		refs := []Reference{
			// A tag ahead keeps the digest beside it.
			part("pinned", FormTag, "2.0.0", 1), part("pinned", FormDigest, digestA, 1),
			// A tag that moves without a known digest clears the digest.
			part("semver", FormTag, "1.0.0", 2), part("semver", FormDigest, digestA, 2),
			// A tag that moves moves its digest.
			part("pinned", FormTag, "1.0.0", 3), part("pinned", FormDigest, digestA, 3),
		}
		var got []row
		for _, d := range Plan(&Result{References: refs}, targets, false) {
			got = append(got, row{d.Status, d.Wanted})
		}
		want := []row{
			{StatusAhead, "1.1.0"}, {StatusAhead, digestB},
			{StatusUpdate, "1.1.0"}, {StatusUpdate, ""},
			{StatusUpdate, "1.1.0"}, {StatusUpdate, digestB},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("blocked", func(t *testing.T) {
		res := &Result{
			References: []Reference{img("semver", "ghcr.io/acme/app:1.0.0"), img("pinned", "ghcr.io/acme/app:1.0.0")},
			Errors:     []FileError{{File: "broken.yaml", Line: 3, Policies: []string{"semver"}}},
		}
		ds := Plan(res, targets, true)
		if ds[0].Status != StatusBlocked || !strings.Contains(ds[0].Why, "broken.yaml:3") || ds[1].Status != StatusUpdate {
			t.Errorf("decisions: %+v", ds)
		}
		if cs := Changes(ds); len(cs) != 1 || cs[0].Policy != "pinned" || cs[0].From != "ghcr.io/acme/app:1.0.0" {
			t.Errorf("changes: %+v", cs)
		}
	})

	if Plan(nil, targets, false) != nil {
		t.Error("Plan(nil) is not nil")
	}
}
