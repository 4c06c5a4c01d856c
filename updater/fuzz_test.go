package updater

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/image"
)

// fuzzPolicies govern every image and marker name the golden cases use.
var fuzzPolicies = func() string {
	var b strings.Builder
	for _, p := range []struct{ name, image, extra string }{
		{"app", "ghcr.io/acme/app", ""},
		{"app-canary", "ghcr.io/acme/app", ""},
		{"app-digest", "ghcr.io/acme/app", "  digest: true\n"},
		{"nginx", "nginx", ""},
		{"myapp", "myapp", ""},
		{"mirror", "registry.example.com/team/myapp", ""},
		{"web", "ghcr.io/acme/web", "  digest: true\n"},
		{"nightly", "ghcr.io/acme/nightly", ""},
	} {
		b.WriteString("---\napiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\nmetadata:\n  name: " + p.name +
			"\nspec:\n  image: " + p.image + "\n  policy:\n    alphabetical: {order: asc}\n" + p.extra)
	}
	return b.String()
}()

// fuzzDir returns a fresh directory, in memory when the machine has
// /dev/shm: the fuzzer writes a file per input.
func fuzzDir(t *testing.T) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "ferry-fuzz-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

var fuzzNames = []string{"f.yaml", "kustomization.yaml", "f.json"}

// FuzzRewrite: whatever the file holds and whatever valid tag is chosen,
// Scan, Plan and Apply never panic, and the file written differs from the
// input only inside the spans of the changed scalars.
func FuzzRewrite(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/original/*")
	more, _ := filepath.Glob("testdata/*/original/*/*/*")
	for _, file := range append(files, more...) {
		data, err := os.ReadFile(file)
		if err != nil || bytes.Contains(data, []byte("{{")) {
			continue
		}
		kind := uint8(0)
		switch {
		case strings.HasPrefix(filepath.Base(file), "kustomization"):
			kind = 1
		case strings.HasSuffix(file, ".json"):
			kind = 2
		}
		f.Add(data, "1.2.3", kind)
		f.Add(data, "v2", kind)
	}
	f.Add([]byte("a: b\n"), "x", uint8(0))
	pols := parsePolicies(f, []byte(fuzzPolicies))
	digest := "sha256:" + strings.Repeat("c", 64)
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, data []byte, tag string, kind uint8) {
		if !image.ValidTag(tag) {
			return
		}
		targets := make(map[string]Target)
		for _, p := range pols {
			tg := Target{Policy: p, Tag: tag}
			if p.Digest {
				tg.Digest = digest
			}
			targets[p.Name] = tg
		}
		root := fuzzDir(t)
		name := fuzzNames[int(kind)%len(fuzzNames)]
		file := filepath.Join(root, name)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Scan(ctx, root, pols, Options{})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		changes := Changes(Plan(res, targets, true))
		if _, err := Diff(root, changes); err != nil && !strings.HasPrefix(err.Error(), "applying changes to "+name) {
			t.Fatalf("Diff: %v", err)
		}
		_, applyErr := Apply(ctx, root, changes)
		out, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if applyErr != nil {
			if !bytes.Equal(out, data) {
				t.Fatalf("Apply failed (%v) yet changed the file", applyErr)
			}
			return
		}

		// Rebuild the expected output: the input outside the changed
		// spans, in order, and the new values inside.
		slices.SortFunc(changes, func(a, b Change) int { return a.span.start - b.span.start })
		var want []byte
		last := 0
		for _, c := range changes {
			if c.span.start < last {
				continue // the same scalar twice
			}
			if c.span.start > len(data) || c.span.end > len(data) || string(data[c.span.start:c.span.end]) != c.From {
				t.Fatalf("change %+v: span does not hold %q", c.Reference, c.From)
			}
			text, _, err := encode(c.To, c.quote)
			if err != nil {
				t.Fatalf("Apply wrote a value it cannot encode: %v", err)
			}
			want = append(want, data[last:c.span.start]...)
			want = append(want, text...)
			last = c.span.end
		}
		want = append(want, data[last:]...)
		if !bytes.Equal(out, want) {
			t.Fatalf("output differs outside the changed spans:\ninput:\n%q\noutput:\n%q\nwant:\n%q", data, out, want)
		}
	})
}
