package migrate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/document"
)

const importApp = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: prod
  annotations:
    argocd-image-updater.argoproj.io/image-list: api=ghcr.io/acme/api
    argocd-image-updater.argoproj.io/api.kustomize.image-name: ghcr.io/acme/api
    argocd-image-updater.argoproj.io/write-back-method: git
    argocd-image-updater.argoproj.io/write-back-target: kustomization
spec:
  source: {repoURL: https://git.example.com/manifests.git, path: overlays/prod}
`

const importKustomization = "resources: [../../base]\nimages:\n  - name: ghcr.io/acme/api\n    newTag: 1.0.0\n"

func importPlan(t *testing.T, repo string) *Plan {
	t.Helper()
	plan, err := ArgoCDImageUpdater([]document.File{{Name: "apps.yaml", Data: []byte(importApp)}}, os.DirFS(repo))
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// Import writes the policies file and the markers, all or nothing; a dry
// run writes nothing and shows both; a second import changes nothing; a
// policies file that differs is not overwritten.
func TestImport(t *testing.T) {
	repo := t.TempDir()
	kust := filepath.Join(repo, "overlays", "prod", "kustomization.yaml")
	if err := os.MkdirAll(filepath.Dir(kust), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kust, []byte(importKustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	policies := filepath.Join(repo, ".ferry", ImportedFile)

	dry, err := Import(t.Context(), repo, importPlan(t, repo), true)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(dry.Written) != 0 || dry.Written == nil || len(dry.Plan.Policies) != 1 {
		t.Errorf("dry run: %+v", dry)
	}
	if !strings.HasPrefix(dry.Diff, "--- /dev/null\n+++ b/.ferry/"+ImportedFile+"\n+# Converted from Argo CD Image Updater") || !strings.Contains(dry.Diff, `$imagepolicy`) {
		t.Errorf("dry run diff:\n%s", dry.Diff)
	}
	if _, err := os.Stat(policies); !os.IsNotExist(err) {
		t.Errorf("the dry run wrote %s: %v", policies, err)
	}

	res, err := Import(t.Context(), repo, importPlan(t, repo), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".ferry/" + ImportedFile, "overlays/prod/kustomization.yaml"}; strings.Join(res.Written, " ") != strings.Join(want, " ") || res.Diff != "" {
		t.Errorf("written %v, want %v", res.Written, want)
	}
	if b, _ := os.ReadFile(kust); !strings.Contains(string(b), `$imagepolicy`) {
		t.Errorf("no marker in the kustomization:\n%s", b)
	}

	again, err := Import(t.Context(), repo, importPlan(t, repo), false)
	if err != nil || len(again.Written) != 0 {
		t.Errorf("a second import: %+v, %v", again, err)
	}

	if err := os.WriteFile(policies, []byte("# edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Import(t.Context(), repo, importPlan(t, repo), false)
	var ee *ExistsError
	if !errors.As(err, &ee) || ee.Path != policies || !strings.Contains(err.Error(), "exists and differs from this import") {
		t.Errorf("a differing policies file: %v", err)
	}
}

func TestAddLines(t *testing.T) {
	if got := addLines([]byte("a\nb\n")); got != "+a\n+b\n" {
		t.Errorf("addLines = %q", got)
	}
}

// ReadFiles finds the repository's Argo CD Image Updater files, reads the
// files named instead when given, and says which path is wrong otherwise.
func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(importApp), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("kind: ConfigMap\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := ReadFiles(t.Context(), dir, nil)
	if err != nil || len(files) != 1 || !strings.HasSuffix(files[0].Name, "app.yaml") {
		t.Fatalf("found %v, %v; want app.yaml only", files, err)
	}
	other := filepath.Join(dir, "other.yaml")
	if files, err = ReadFiles(t.Context(), dir, []string{other}); err != nil || len(files) != 1 || files[0].Name != other {
		t.Errorf("named file: %v, %v", files, err)
	}
	var nf *document.NotFoundError
	for name, tc := range map[string]struct {
		repo  string
		names []string
		want  string
	}{
		"repo missing":    {filepath.Join(dir, "nope"), nil, "repository " + filepath.Join(dir, "nope")},
		"repo is a file":  {other, nil, "not a directory"},
		"file missing":    {dir, []string{filepath.Join(dir, "gone.yaml")}, "gone.yaml"},
		"nothing to read": {t.TempDir(), nil, "no file mentions " + ArgoGroup},
	} {
		_, err := ReadFiles(t.Context(), tc.repo, tc.names)
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want a NotFoundError naming %q", name, err, tc.want)
		}
	}
}
