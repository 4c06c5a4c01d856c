package updater

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// planRepo scans root with the scan policies and plans both to 1.1.0.
func planRepo(t *testing.T, root string) []Change {
	t.Helper()
	pols := parsePolicies(t, []byte(scanPolicies))
	res, err := Scan(context.Background(), root, pols, Options{})
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]Target{"app": {Policy: pols[0], Tag: "1.1.0"}, "web": {Policy: pols[1], Tag: "1.1.0"}}
	return Changes(Plan(res, targets, false))
}

func TestApplyRefusesStaleSpans(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"a.yaml": appDeployment, "b.yaml": webDeployment})
	changes := planRepo(t, root)
	if len(changes) != 2 {
		t.Fatalf("changes: %+v", changes)
	}
	// b.yaml changes after the scan.
	edited := strings.Replace(webDeployment, "web:1.0.0", "web:1.0.1", 1)
	writeFiles(t, root, map[string]string{"b.yaml": edited})
	_, err := Apply(context.Background(), root, changes)
	if err == nil || !strings.Contains(err.Error(), "b.yaml:10") || !strings.Contains(err.Error(), "changed since the scan") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "ghcr.io") {
		t.Errorf("error %q quotes the file", err)
	}
	want := map[string]string{"a.yaml": appDeployment, "b.yaml": edited}
	if diff := cmp.Diff(want, readTree(t, root)); diff != "" {
		t.Errorf("files written despite the error (-want +got):\n%s", diff)
	}
	// Diff refuses the same way.
	if _, err := Diff(root, changes); err == nil {
		t.Error("Diff: no error")
	}
}

func TestApplyConfinesPaths(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"x.yaml": appDeployment})
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"a.yaml": appDeployment})
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "x.yaml"), filepath.Join(root, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	good := planRepo(t, root)
	if len(good) != 1 {
		t.Fatalf("changes: %+v", good)
	}
	for _, file := range []string{
		"../x.yaml",
		"a/../../x.yaml",
		"sub/../a.yaml",
		"./a.yaml",
		filepath.Join(outside, "x.yaml"),
		"/etc/passwd",
		"out/x.yaml",
		"link.yaml",
		"",
		".",
	} {
		bad := good[0]
		bad.File = file
		_, err := Apply(context.Background(), root, []Change{good[0], bad})
		if err == nil {
			t.Errorf("%q: no error", file)
			continue
		}
		if diff := cmp.Diff(map[string]string{"x.yaml": appDeployment}, readTree(t, outside)); diff != "" {
			t.Fatalf("%q: wrote outside the repository:\n%s", file, diff)
		}
		if got := readTree(t, root)["a.yaml"]; got != appDeployment {
			t.Fatalf("%q: a.yaml written despite the error", file)
		}
	}
}

func TestApplyKeepsModeAndIsIdempotent(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"a.yaml": appDeployment, "sub/b.yaml": webDeployment})
	for name, mode := range map[string]os.FileMode{"a.yaml": 0o600, "sub/b.yaml": 0o755} {
		if err := os.Chmod(filepath.Join(root, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	written, err := Apply(context.Background(), root, planRepo(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a.yaml", "sub/b.yaml"}, written); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	for name, mode := range map[string]os.FileMode{"a.yaml": 0o600, "sub/b.yaml": 0o755} {
		fi, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".ferry-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if again := planRepo(t, root); len(again) != 0 {
		t.Errorf("second run: %+v", again)
	}
	written, err = Apply(context.Background(), root, nil)
	if err != nil || len(written) != 0 {
		t.Errorf("Apply(nil) = %v, %v", written, err)
	}
}

// TestApplyRestoresOnFailure: when replacing a file fails, the files already
// replaced get their original content back.
func TestApplyRestoresOnFailure(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{"a.yaml": appDeployment, "b.yaml": webDeployment, "c.yaml": appDeployment}
	writeFiles(t, root, files)
	changes := planRepo(t, root)
	testHookRename = func(file string) error {
		if file == "c.yaml" {
			return errors.New("disk on fire")
		}
		return nil
	}
	defer func() { testHookRename = nil }()
	_, err := Apply(context.Background(), root, changes)
	if err == nil || !strings.Contains(err.Error(), "c.yaml") || !strings.Contains(err.Error(), "restored") {
		t.Fatalf("err = %v", err)
	}
	if diff := cmp.Diff(files, readTree(t, root)); diff != "" {
		t.Errorf("files not restored (-want +got):\n%s", diff)
	}
}

// TestApplySerializedChanges: changes that went through JSON (and so lost
// their byte spans) are applied from their line and column.
func TestApplySerializedChanges(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "testdata/styles/original", root)
	pols := loadPolicies(t, "testdata/styles/policies.yaml")
	targets := loadTargets(t, "testdata/styles/tags.json", pols)
	res, err := Scan(context.Background(), root, pols, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(Changes(Plan(res, targets, false)))
	if err != nil {
		t.Fatal(err)
	}
	var changes []Change
	if err := json.Unmarshal(data, &changes); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(context.Background(), root, changes); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(readTree(t, "testdata/styles/expected"), readTree(t, root)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestApplyConflicts(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"a.yaml": appDeployment})
	changes := planRepo(t, root)
	other := changes[0]
	other.To = "ghcr.io/acme/app:9.9.9"
	if _, err := Apply(context.Background(), root, append(changes, other)); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("err = %v", err)
	}
	// The same change twice is one change.
	if _, err := Apply(context.Background(), root, append(changes, changes[0])); err != nil {
		t.Errorf("err = %v", err)
	}
}

// TestApplyQuotesAndRefuses: values YAML would misread are quoted; values
// that cannot be written without escapes are refused.
func TestApplyQuotesAndRefuses(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"values.yaml": `plain: 1.0.0 # {"$imagepolicy": "app:tag"}
single: '1.0.0' # {"$imagepolicy": "web:tag"}
`})
	pols := parsePolicies(t, []byte(scanPolicies))
	res, err := Scan(context.Background(), root, pols, Options{})
	if err != nil {
		t.Fatal(err)
	}
	changes := Changes(Plan(res, map[string]Target{"app": {Policy: pols[0], Tag: "1.10"}, "web": {Policy: pols[1], Tag: "1.1.0"}}, true))
	if len(changes) != 2 {
		t.Fatalf("changes: %+v", changes)
	}
	if _, err := Apply(context.Background(), root, changes); err != nil {
		t.Fatal(err)
	}
	want := `plain: "1.10" # {"$imagepolicy": "app:tag"}
single: '1.1.0' # {"$imagepolicy": "web:tag"}
`
	if got := readTree(t, root)["values.yaml"]; got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	res, _ = Scan(context.Background(), root, pols, Options{})
	bad := Changes(Plan(res, map[string]Target{"web": {Policy: pols[1], Tag: "1.2.0"}}, false))
	if len(bad) != 1 {
		t.Fatalf("changes: %+v", bad)
	}
	bad[0].To = "it's"
	if _, err := Apply(context.Background(), root, bad); err == nil || !strings.Contains(err.Error(), "values.yaml:2") {
		t.Errorf("err = %v", err)
	}
}

// TestPlanBlocksUnrewritable: a reference that cannot be rewritten in place
// blocks its policy when it would change, and only then.
func TestPlanBlocksUnrewritable(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"values.yaml": "tag: |- # {\"$imagepolicy\": \"app:tag\"}\n  1.0.0\nescaped: \"1.0.\\x30\" # {\"$imagepolicy\": \"web:tag\"}\n",
		"a.yaml":      appDeployment,
	})
	pols := parsePolicies(t, []byte(scanPolicies))
	res, err := Scan(context.Background(), root, pols, Options{})
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]Target{"app": {Policy: pols[0], Tag: "1.1.0"}, "web": {Policy: pols[1], Tag: "1.0.0"}}
	got := map[string]Status{}
	for _, d := range Plan(res, targets, false) {
		got[d.File+":"+d.Policy] = d.Status
		if d.Status == StatusBlocked && !strings.Contains(d.Why, "cannot rewrite values.yaml:1") {
			t.Errorf("why: %q", d.Why)
		}
	}
	want := map[string]Status{"values.yaml:app": StatusBlocked, "a.yaml:app": StatusBlocked, "values.yaml:web": StatusCurrent}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestStructurallySafe(t *testing.T) {
	for s, want := range map[string]bool{
		"release.20240301": true,
		"ghcr.io/acme/web:1.2.3@sha256:0123456789abcdef0123456789abcdef": true,
		"localhost:5000/app:v1": true,
		"":                      false,
		"v1 # comment":          false,
		"a: b":                  false,
		"-v1":                   false,
		"v1:":                   false,
		"x\ny":                  false,
		"'quoted'":              false,
		"{a}":                   false,
	} {
		if got := structurallySafe(s); got != want {
			t.Errorf("structurallySafe(%q) = %v, want %v", s, got, want)
		}
	}
}
