package updater

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddMarkers(t *testing.T) {
	root := t.TempDir()
	values := "# chart values\nimage:\n  repository: ghcr.io/acme/web   # where\n  tag: \"1.2.3\"\nother: {tag: x}\n---\nsecond:\n  tag: 4\n"
	if err := os.WriteFile(filepath.Join(root, "values.yaml"), []byte(values), 0o640); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	marks := []Mark{
		{File: "values.yaml", KeyPath: []string{"image", "tag"}, Marker: "web:tag"},
		{File: "values.yaml", KeyPath: []string{"second", "tag"}, Marker: "web:tag"},
	}
	_, diff, err := AddMarkers(ctx, root, marks, true)
	if err != nil || !strings.Contains(diff, `+  tag: "1.2.3" # {"$imagepolicy": "web:tag"}`) {
		t.Fatalf("dry run: %v\n%s", err, diff)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "values.yaml")); string(data) != values {
		t.Fatal("a dry run wrote")
	}
	written, _, err := AddMarkers(ctx, root, marks, false)
	if err != nil || len(written) != 1 {
		t.Fatalf("AddMarkers = %v, %v", written, err)
	}
	data, _ := os.ReadFile(filepath.Join(root, "values.yaml"))
	want := strings.Replace(values, `tag: "1.2.3"`, `tag: "1.2.3" # {"$imagepolicy": "web:tag"}`, 1)
	want = strings.Replace(want, "  tag: 4\n", "  tag: 4 # {\"$imagepolicy\": \"web:tag\"}\n", 1)
	if string(data) != want {
		t.Errorf("got\n%s\nwant\n%s", data, want)
	}
	if fi, _ := os.Stat(filepath.Join(root, "values.yaml")); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v not kept", fi.Mode())
	}
	// The markers are read back by a scan as markers.
	if written, _, err := AddMarkers(ctx, root, marks, false); err != nil || len(written) != 0 {
		t.Errorf("second run = %v, %v; want nothing written", written, err)
	}
	for _, bad := range []Mark{
		{File: "values.yaml", KeyPath: []string{"image", "repository"}, Marker: "web:name"},
		{File: "values.yaml", KeyPath: []string{"image", "nope"}, Marker: "web:tag"},
		{File: "values.yaml", KeyPath: []string{"image"}, Marker: "web"},
	} {
		_, _, err := AddMarkers(ctx, root, []Mark{marks[0], bad}, false)
		var me *MarkError
		if !errors.As(err, &me) || me.Mark.KeyPath[len(me.Mark.KeyPath)-1] != bad.KeyPath[len(bad.KeyPath)-1] {
			t.Errorf("AddMarkers(%v) = %v, want a MarkError for it", bad.KeyPath, err)
		}
	}
	if _, _, err := AddMarkers(ctx, root, []Mark{{File: "../x.yaml", KeyPath: []string{"a"}, Marker: "p"}}, false); err == nil {
		t.Error("a path out of the repository was accepted")
	}
}
