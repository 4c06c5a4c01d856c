package bot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/updater"
)

const updatePolicies = `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata: {name: app}
spec:
  image: ghcr.io/acme/app
  policy:
    semver: {range: '>=1.0.0'}
---
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata: {name: web}
spec:
  image: ghcr.io/acme/web
  policy:
    semver: {range: '>=1.0.0'}
`

func deployment(name, img string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n  template:\n    spec:\n      containers:\n        - name: " + name + "\n          image: " + img + "\n"
}

// updateReport plans app 1.0.0 → 1.1.0 and leaves web, at 2.0.0, ahead of
// the chosen 1.1.0.
func updateReport(t *testing.T, dir string) *Report {
	t.Helper()
	for name, data := range map[string]string{"app.yaml": deployment("app", "ghcr.io/acme/app:1.0.0"), "web.yaml": deployment("web", "ghcr.io/acme/web:2.0.0")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := dotferry.Parse("policies.yaml", []byte(updatePolicies))
	if err != nil {
		t.Fatal(err)
	}
	res, err := updater.Scan(t.Context(), dir, set.Policies, updater.Options{})
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]updater.Target{"app": {Policy: set.Policies[0], Tag: "1.1.0"}, "web": {Policy: set.Policies[1], Tag: "1.1.0"}}
	return &Report{Decisions: updater.Plan(res, targets, false)}
}

func TestUpdate(t *testing.T) {
	dir := t.TempDir()
	rep := updateReport(t, dir)

	dry, err := Update(t.Context(), dir, rep, true)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(dry.Changes) != 1 || dry.Changes[0].To != "ghcr.io/acme/app:1.1.0" || len(dry.Written) != 0 || dry.Written == nil {
		t.Errorf("dry run: %+v", dry)
	}
	if !strings.Contains(dry.Diff, "+          image: ghcr.io/acme/app:1.1.0") {
		t.Errorf("dry run diff:\n%s", dry.Diff)
	}
	if len(dry.Held) != 1 || dry.Held[0].File != "web.yaml" || dry.Held[0].Status != updater.StatusAhead || dry.Held[0].Current != "ghcr.io/acme/web:2.0.0" {
		t.Errorf("held: %+v", dry.Held)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "app.yaml")); !strings.Contains(string(b), "app:1.0.0") {
		t.Errorf("the dry run wrote app.yaml:\n%s", b)
	}

	res, err := Update(t.Context(), dir, rep, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Written) != 1 || res.Written[0] != "app.yaml" || res.Diff != "" {
		t.Errorf("update: %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "app.yaml")); !strings.Contains(string(b), "app:1.1.0") {
		t.Errorf("app.yaml not updated:\n%s", b)
	}

	// The file changed since the scan: nothing is written.
	_, err = Update(t.Context(), dir, rep, false)
	if err == nil || !strings.HasPrefix(err.Error(), "nothing was written: ") {
		t.Errorf("a stale plan: %v", err)
	}

	// Nothing to change: an empty list, not null.
	empty, err := Update(t.Context(), dir, &Report{}, false)
	if err != nil || empty.Changes == nil || len(empty.Changes) != 0 {
		t.Errorf("empty: %+v, %v", empty, err)
	}
}
