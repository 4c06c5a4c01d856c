package updater

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// goldenNow is the time tags are selected at in tests.
var goldenNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// loadPolicies parses a policies.yaml with the policy package.
func loadPolicies(t testing.TB, file string) []*policy.Policy {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return parsePolicies(t, data)
}

func parsePolicies(t testing.TB, data []byte) []*policy.Policy {
	t.Helper()
	set, err := dotferry.Parse("policies.yaml", data)
	if err != nil {
		t.Fatalf("parsing policies: %v", err)
	}
	return set.Policies
}

// loadTargets selects each policy's target from the tags listed for it in
// tags.json, as the bot does.
func loadTargets(t testing.TB, file string, pols []*policy.Policy) map[string]Target {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var tags map[string][]image.Tag
	if err := json.Unmarshal(data, &tags); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return targetsFor(t, pols, tags)
}

func targetsFor(t testing.TB, pols []*policy.Policy, tags map[string][]image.Tag) map[string]Target {
	t.Helper()
	targets := make(map[string]Target)
	for _, p := range pols {
		ts, ok := tags[p.Name]
		if !ok {
			continue
		}
		ch, err := policy.Select(ts, p, goldenNow)
		if err != nil {
			t.Fatalf("selecting a tag for %s: %v", p.Name, err)
		}
		tg := Target{Policy: p, Tag: ch.Tag, Tags: ts}
		if p.Digest {
			tg.Digest = ch.Digest
		}
		targets[p.Name] = tg
	}
	return targets
}

// copyTree copies the regular files of src into dst.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readTree returns the files under dir by slash path.
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	files := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func diffText(name, want, got string) string {
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(want), B: difflib.SplitLines(got),
		FromFile: "want/" + name, ToFile: "got/" + name, Context: 3,
	})
	return d
}

// formatPlan renders decisions one per line for plan.golden.
func formatPlan(ds []Decision) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s:%d:%d %s %s (%s %s) %s %s: %s -> %s", d.File, d.Line, d.Column,
			d.Object, d.FieldPath, d.Source, d.Form, d.Policy, d.Status, d.Current, d.Wanted)
		if d.Why != "" {
			fmt.Fprintf(&b, " # %s", d.Why)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func checkGolden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs:\n%s", file, diffText(filepath.Base(file), string(want), got))
	}
}

// TestGolden runs Scan, Plan, Changes and Apply on a copy of each
// testdata/<case>/original and compares the result byte for byte with
// testdata/<case>/expected, and the decisions with plan.golden.
func TestGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range cases {
		dir := filepath.Join("testdata", c.Name())
		if _, err := os.Stat(filepath.Join(dir, "original")); err != nil {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			pols := loadPolicies(t, filepath.Join(dir, "policies.yaml"))
			targets := loadTargets(t, filepath.Join(dir, "tags.json"), pols)
			root := t.TempDir()
			copyTree(t, filepath.Join(dir, "original"), root)

			res, err := Scan(ctx, root, pols, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range res.Errors {
				t.Errorf("file error: %v", e)
			}
			ds := Plan(res, targets, false)
			checkGolden(t, filepath.Join(dir, "plan.golden"), formatPlan(ds))
			changes := Changes(ds)
			diff, err := Diff(root, changes)
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			checkGolden(t, filepath.Join(dir, "diff.golden"), diff)
			written, err := Apply(ctx, root, changes)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !slices.IsSorted(written) {
				t.Errorf("written files are not sorted: %v", written)
			}

			got := readTree(t, root)
			expDir := filepath.Join(dir, "expected")
			if *update {
				os.RemoveAll(expDir)
				for name, data := range got {
					p := filepath.Join(expDir, filepath.FromSlash(name))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				want := readTree(t, expDir)
				for name, w := range want {
					if g, ok := got[name]; !ok {
						t.Errorf("%s: missing", name)
					} else if g != w {
						t.Errorf("%s differs from expected:\n%s", name, diffText(name, w, g))
					}
				}
				for name := range got {
					if _, ok := want[name]; !ok {
						t.Errorf("%s: not expected", name)
					}
				}
			}
			// Files written are exactly those that differ from the original.
			orig := readTree(t, filepath.Join(dir, "original"))
			var changed []string
			for name, data := range got {
				if orig[name] != data {
					changed = append(changed, name)
				}
			}
			slices.Sort(changed)
			if !slices.Equal(changed, written) {
				t.Errorf("Apply wrote %v, files changed: %v", written, changed)
			}

			// Idempotent: a second run finds nothing to change.
			res2, err := Scan(ctx, root, pols, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if again := Changes(Plan(res2, targets, false)); len(again) != 0 {
				t.Errorf("second run still has %d changes, first: %+v", len(again), again[0])
			}
			if len(res2.References) != len(res.References) {
				t.Errorf("second scan found %d references, first %d", len(res2.References), len(res.References))
			}
		})
	}
}
