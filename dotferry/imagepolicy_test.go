package dotferry

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

// cmpRegexp compares compiled expressions by their source.
var cmpRegexp = cmp.Comparer(func(a, b *regexp.Regexp) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.String() == b.String()
})

const fullPolicy = `# the staging policy
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: myapp-staging
spec:
  image: 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp
  filterTags:
    pattern: '^release\.(?P<stamp>\d{8})$'
    extract: '$stamp'
    exclude: ['\.sig$', '-debug']
  policy:
    date: {layout: '20060102'}
  minAge: 30m
  digest: true
  update:
    paths: ['overlays/staging/**']
  pullRequest: {group: prod, labels: [a], reviewers: [u], teamReviewers: [t], assignees: [v], draft: true}
`

func TestParseFull(t *testing.T) {
	set, err := Parse("policies/p.yaml", []byte(fullPolicy))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Set{Policies: []*policy.Policy{{
		Name:        "myapp-staging",
		Image:       "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp",
		Written:     "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp",
		Source:      document.Source{File: "policies/p.yaml", Line: 2},
		Pattern:     regexp.MustCompile(`^release\.(?P<stamp>\d{8})$`),
		Extract:     "$stamp",
		Exclude:     []*regexp.Regexp{regexp.MustCompile(`\.sig$`), regexp.MustCompile(`-debug`)},
		Strategy:    policy.Strategy{Kind: policy.Date, Layout: "20060102"},
		MinAge:      30 * time.Minute,
		Digest:      true,
		UpdatePaths: []string{"overlays/staging/**"},
		PullRequest: policy.PullRequest{Group: "prod", Labels: []string{"a"}, Reviewers: []string{"u"}, TeamReviewers: []string{"t"}, Assignees: []string{"v"}, Draft: true},
	}}, Config: Config{Branch: DefaultBranchTemplate}, Files: 1}
	if diff := cmp.Diff(want, set, cmpRegexp); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestParseStrategies(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		want   policy.Strategy
	}{
		{"semver with range", "semver: {range: '>=1.2.0 <2.0.0'}", policy.Strategy{Kind: policy.SemVer, Range: ">=1.2.0 <2.0.0"}},
		{"semver without range", "semver: {}", policy.Strategy{Kind: policy.SemVer}},
		{"semver null", "semver:", policy.Strategy{Kind: policy.SemVer}},
		{"semver numeric range unquoted", "semver: {range: 2}", policy.Strategy{Kind: policy.SemVer, Range: "2"}},
		{"numerical default order", "numerical: {}", policy.Strategy{Kind: policy.Numerical, Order: "asc"}},
		{"numerical desc", "numerical: {order: desc}", policy.Strategy{Kind: policy.Numerical, Order: "desc"}},
		{"alphabetical null", "alphabetical: ~", policy.Strategy{Kind: policy.Alphabetical, Order: "asc"}},
		{"alphabetical desc", "alphabetical:\n      order: desc", policy.Strategy{Kind: policy.Alphabetical, Order: "desc"}},
		{"pushedAt", "pushedAt: {}", policy.Strategy{Kind: policy.PushedAt}},
		{"pushedAt null", "pushedAt:", policy.Strategy{Kind: policy.PushedAt}},
		{"date unquoted layout", "date: {layout: 20060102}", policy.Strategy{Kind: policy.Date, Layout: "20060102"}},
		{"date layout with time", "date: {layout: '2006-01-02T15-04-05Z'}", policy.Strategy{Kind: policy.Date, Layout: "2006-01-02T15-04-05Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "apiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: p}\nspec:\n  image: nginx\n  policy:\n    " + tc.policy + "\n"
			set, err := Parse("p.yaml", []byte(src))
			if err != nil {
				t.Fatalf("Parse:\n%s\n%v", src, err)
			}
			if diff := cmp.Diff(tc.want, set.Policies[0].Strategy); diff != "" {
				t.Errorf("Strategy (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDocuments(t *testing.T) {
	src := `# leading comment only document
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata:
  name: myapp
spec:
  source: {path: overlays/staging}   # repoURL and branch come later
---
# just a comment
---
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata: {name: a}
spec: {image: nginx, policy: {semver: {}}}
...
---
apiVersion: ferry.dev/v1alpha1
kind: Config
spec: {branch: 'bot/{{group}}'}
--- {apiVersion: ferry.dev/v1alpha1, kind: ImagePolicy, metadata: {name: b}, spec: {image: "ghcr.io/o/b", policy: {pushedAt: {}}}}
---
`
	set, err := Parse("all.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var got []string
	for _, p := range set.Policies {
		got = append(got, p.Name+"@"+p.Source.String()+" "+p.Image)
	}
	want := []string{"a@all.yaml:12 docker.io/library/nginx", "b@all.yaml:21 ghcr.io/o/b"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	wantApps := []App{{Name: "myapp", Path: "overlays/staging", Source: document.Source{File: "all.yaml", Line: 3}}}
	if diff := cmp.Diff(wantApps, set.Apps); diff != "" {
		t.Errorf("Apps (-want +got):\n%s", diff)
	}
	wantConfig := Config{Branch: "bot/{{group}}", Source: document.Source{File: "all.yaml", Line: 18}}
	if diff := cmp.Diff(wantConfig, set.Config); diff != "" {
		t.Errorf("Config (-want +got):\n%s", diff)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "\n\n", "# nothing\n", "---\n---\n", "---\n# c\n...\n", "\xef\xbb\xbf# bom\n"} {
		set, err := Parse("e.yaml", []byte(src))
		if err != nil || len(set.Policies) != 0 || len(set.Apps) != 0 {
			t.Errorf("Parse(%q) = %+v, %v; want an empty Set", src, set, err)
		}
	}
}

// doc builds an ImagePolicy document whose spec lines follow; lines are
// indented by two spaces under spec:. The document's line 1 is apiVersion,
// so spec's first line is line 5.
func policyDoc(name string, spec ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\nmetadata:\n  name: " + name + "\nspec:\n")
	for _, l := range spec {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// TestParseErrors has one case per kind of problem; want lists the
// "file:line: field: message" of every problem, message cut to a prefix.
func TestParseErrors(t *testing.T) {
	ok := []string{"image: nginx", "policy: {semver: {}}"}
	with := func(extra ...string) []string { return append(append([]string{}, ok...), extra...) }
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown top-level field", "status: {}\n" + policyDoc("p", ok...),
			[]string{`f.yaml:1: status: unknown field "status" (allowed: apiVersion, kind, metadata, spec)`}},
		{"unknown spec field", policyDoc("p", with("filterTag: {pattern: x}")...),
			[]string{`f.yaml:8: spec.filterTag: unknown field "filterTag" (allowed: image, filterTags, policy, minAge, digest, update, pullRequest, verify)`}},
		{"unknown nested field", policyDoc("p", with("filterTags:", "  pattern: x", "  extracts: y")...),
			[]string{`f.yaml:10: spec.filterTags.extracts: unknown field "extracts" (allowed: pattern, extract, exclude)`}},
		{"unknown metadata field", strings.Replace(policyDoc("p", ok...), "  name: p\n", "  name: p\n  namespace: x\n", 1),
			[]string{`f.yaml:5: metadata.namespace: unknown field "namespace" (allowed: name)`}},
		{"unknown pushedAt option", policyDoc("p", "image: nginx", "policy: {pushedAt: {order: asc}}"),
			[]string{`f.yaml:7: spec.policy.pushedAt.order: unknown field "order" (spec.policy.pushedAt takes no fields)`}},
		{"duplicate field", policyDoc("p", with("image: redis")...),
			[]string{`f.yaml:8: spec.image: duplicate field (first set at line 6)`}},
		{"wrong type mapping", policyDoc("p", with("filterTags: [x]")...),
			[]string{`f.yaml:8: spec.filterTags: must be a mapping, got a list`}},
		{"wrong type string", policyDoc("p", "image: [nginx]", "policy: {semver: {}}"),
			[]string{`f.yaml:6: spec.image: must be a string, got a list`}},
		{"wrong type bool", policyDoc("p", with("digest: yes")...),
			[]string{`f.yaml:8: spec.digest: must be true or false, got a string`}},
		{"wrong type list", policyDoc("p", with("pullRequest: {labels: a}")...),
			[]string{`f.yaml:8: spec.pullRequest.labels: must be a list of strings, got a string`}},
		{"wrong type list element", policyDoc("p", with("pullRequest: {labels: [a, {b: c}]}")...),
			[]string{`f.yaml:8: spec.pullRequest.labels[1]: must be a string, got a mapping`}},
		{"empty list element", policyDoc("p", with("pullRequest: {reviewers: [a, '']}")...),
			[]string{`f.yaml:8: spec.pullRequest.reviewers[1]: must not be empty`}},
		{"document not a mapping", "- a\n- b\n",
			[]string{`f.yaml:1: a document must be a mapping, got a list`}},
		{"missing apiVersion", strings.Replace(policyDoc("p", ok...), "apiVersion: ferry.dev/v1alpha1\n", "", 1),
			[]string{`f.yaml:1: apiVersion: required field is missing`}},
		{"wrong apiVersion", strings.Replace(policyDoc("p", ok...), "v1alpha1", "v1", 1),
			[]string{`f.yaml:1: apiVersion: must be "ferry.dev/v1alpha1", got "ferry.dev/v1"`}},
		{"missing kind", strings.Replace(policyDoc("p", ok...), "kind: ImagePolicy\n", "", 1),
			[]string{`f.yaml:1: kind: required field is missing`}},
		{"unknown kind", strings.Replace(policyDoc("p", ok...), "ImagePolicy", "ImageRepository", 1),
			[]string{`f.yaml:2: kind: unknown kind "ImageRepository" (want ImagePolicy, App, Config, Promotion or Rejection)`}},
		{"App with wrong apiVersion", "apiVersion: v1\nkind: App\n",
			[]string{`f.yaml:1: apiVersion: must be "ferry.dev/v1alpha1", got "v1"`}},
		{"missing metadata", "apiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\nspec: {image: nginx, policy: {semver: {}}}\n",
			[]string{`f.yaml:1: metadata.name: required field is missing`}},
		{"missing name", strings.Replace(policyDoc("p", ok...), "  name: p\n", "  name:\n", 1),
			[]string{`f.yaml:4: metadata.name: required field is missing`}},
		{"invalid name", policyDoc("My_App", ok...),
			[]string{`f.yaml:4: metadata.name: "My_App" is not a valid name`}},
		{"empty name", strings.Replace(policyDoc("p", ok...), "  name: p\n", "  name: ''\n", 1),
			[]string{`f.yaml:4: metadata.name: must not be empty`}},
		{"long name", policyDoc(strings.Repeat("a", 254), ok...),
			[]string{`f.yaml:4: metadata.name: longer than 253 characters`}},
		{"scalar document", "---\nhello\n",
			[]string{`f.yaml:2: a document must be a mapping, got a string`}},
		{"flow document on the marker line", policyDoc("p", ok...) + "--- {apiVersion: ferry.dev/v1alpha1, kind: ImagePolicy, metadata: {name: q}, spec: {image: 'a:b', policy: {date: {layout: 2006}}}}\n",
			[]string{`f.yaml:8: spec.image: must be a repository without a tag, got "a:b"`}},
		{"integer for a boolean", policyDoc("p", with("digest: 1")...),
			[]string{`f.yaml:8: spec.digest: must be true or false, got an integer`}},
		{"boolean for a string", policyDoc("p", with("pullRequest: {group: true}")...),
			[]string{`f.yaml:8: spec.pullRequest.group: must be a string, got a boolean`}},
		{"null list element", policyDoc("p", with("pullRequest: {assignees: [~]}")...),
			[]string{`f.yaml:8: spec.pullRequest.assignees[0]: must be a string, got null`}},
		{"missing spec", "apiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: p}\n",
			[]string{`f.yaml:1: spec: required field is missing`}},
		{"missing image", policyDoc("p", "policy: {semver: {}}"),
			[]string{`f.yaml:5: spec.image: required field is missing`}},
		{"image with tag", policyDoc("p", "image: nginx:1.25", "policy: {semver: {}}"),
			[]string{`f.yaml:6: spec.image: must be a repository without a tag, got "nginx:1.25"`}},
		{"image with digest", policyDoc("p", "image: nginx@sha256:0123456789abcdef0123456789abcdef", "policy: {semver: {}}"),
			[]string{`f.yaml:6: spec.image: must be a repository without a digest`}},
		{"image that does not normalise", policyDoc("p", "image: Ghcr.io/Org/App", "policy: {semver: {}}"),
			[]string{`f.yaml:6: spec.image: invalid repository: parsing repository "Ghcr.io/Org/App": invalid repository path "Org/App"`}},
		{"image with registry port is fine but empty is not", policyDoc("p", "image: ''", "policy: {semver: {}}"),
			[]string{`f.yaml:6: spec.image: must not be empty`}},
		{"missing policy", policyDoc("p", "image: nginx"),
			[]string{`f.yaml:5: spec.policy: required field is missing (one of date, semver, numerical, alphabetical, pushedAt)`}},
		{"no strategy", policyDoc("p", "image: nginx", "policy: {}"),
			[]string{`f.yaml:7: spec.policy: one of date, semver, numerical, alphabetical, pushedAt is required`}},
		{"two strategies", policyDoc("p", "image: nginx", "policy:", "  semver: {}", "  date: {layout: '20060102'}"),
			[]string{`f.yaml:9: spec.policy: only one strategy may be set, got "semver" and "date"`}},
		{"unknown strategy", policyDoc("p", "image: nginx", "policy: {newest: {}}"),
			[]string{`f.yaml:7: spec.policy.newest: unknown field "newest" (allowed: date, semver, numerical, alphabetical, pushedAt)`,
				`f.yaml:7: spec.policy: one of date, semver, numerical, alphabetical, pushedAt is required`}},
		{"bad regex", policyDoc("p", with("filterTags: {pattern: '^release-(\\d+'}")...),
			[]string{"f.yaml:8: spec.filterTags.pattern: invalid regular expression: error parsing regexp: missing closing ): `^release-(\\d+`"}},
		{"bad exclude regex", policyDoc("p", with("filterTags:", "  exclude:", "    - ok", "    - '*bad'")...),
			[]string{"f.yaml:11: spec.filterTags.exclude[1]: invalid regular expression: error parsing regexp: missing argument to repetition operator: `*`"}},
		{"empty exclude", policyDoc("p", with("filterTags: {exclude: ['']}")...),
			[]string{`f.yaml:8: spec.filterTags.exclude[0]: must not be empty`}},
		{"extract of an unknown named group", policyDoc("p", with("filterTags:", "  pattern: '^v(?P<ver>.*)$'", "  extract: '$version'")...),
			[]string{`f.yaml:10: spec.filterTags.extract: the pattern has no group named "version"`}},
		{"extract of an unknown numbered group", policyDoc("p", with("filterTags:", "  pattern: '^v(.*)$'", "  extract: '$2'")...),
			[]string{`f.yaml:10: spec.filterTags.extract: group 2 does not exist: the pattern has 1 groups`}},
		{"extract without pattern", policyDoc("p", with("filterTags: {extract: '$1'}")...),
			[]string{`f.yaml:8: spec.filterTags.extract: extract needs a pattern with the groups it names (spec.filterTags.pattern)`}},
		{"extract after a bad pattern reports only the pattern", policyDoc("p", with("filterTags: {pattern: '(', extract: '$1'}")...),
			[]string{"f.yaml:8: spec.filterTags.pattern: invalid regular expression"}},
		{"bad semver range", policyDoc("p", "image: nginx", "policy:", "  semver:", "    range: '>=1.0 <<2'"),
			[]string{`f.yaml:9: spec.policy.semver.range: invalid semver range ">=1.0 <<2": `}},
		{"empty date layout", policyDoc("p", "image: nginx", "policy: {date: {layout: ''}}"),
			[]string{`f.yaml:7: spec.policy.date.layout: must not be empty`}},
		{"missing date layout", policyDoc("p", "image: nginx", "policy:", "  date: {}"),
			[]string{`f.yaml:8: spec.policy.date.layout: required field is missing`}},
		{"layout without elements", policyDoc("p", "image: nginx", "policy: {date: {layout: 'yyyyMMdd'}}"),
			[]string{`f.yaml:7: spec.policy.date.layout: "yyyyMMdd" has no date or time elements`}},
		{"bad order", policyDoc("p", "image: nginx", "policy: {numerical: {order: descending}}"),
			[]string{`f.yaml:7: spec.policy.numerical.order: must be asc or desc, got "descending"`}},
		{"bad duration", policyDoc("p", with("minAge: 30")...),
			[]string{`f.yaml:8: spec.minAge: invalid duration "30" (use units such as 30m or 2h)`}},
		{"negative minAge", policyDoc("p", with("minAge: -1h")...),
			[]string{`f.yaml:8: spec.minAge: must not be negative, got -1h`}},
		{"bad glob", policyDoc("p", with("update:", "  paths: ['overlays/**', 'a/[b']")...),
			[]string{`f.yaml:9: spec.update.paths[1]: invalid glob: glob "a/[b": syntax error in pattern`}},
		{"glob with ** inside a segment", policyDoc("p", with("update: {paths: ['a/**.yaml']}")...),
			[]string{`f.yaml:8: spec.update.paths[0]: invalid glob: glob "a/**.yaml": ** must be a whole path segment`}},
		{"duplicate name", policyDoc("p", ok...) + "---\n" + policyDoc("p", ok...),
			[]string{`f.yaml:12: metadata.name: duplicate policy name "p" (first defined at f.yaml:4)`}},
		{"yaml syntax error", policyDoc("p", ok...) + "---\napiVersion: ferry.dev/v1alpha1\nkind: [\n",
			[]string{`f.yaml:10: invalid YAML: did not find expected node content`}},
		{"yaml syntax error mid-document", "apiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\n  bad: indent\n",
			[]string{`f.yaml:3: invalid YAML: mapping values are not allowed in this context`}},
		{"tab indentation", "apiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\nspec:\n\timage: nginx\n",
			[]string{`f.yaml:4: invalid YAML: found character that cannot start any token`}},
		{"alias", "base: &b {semver: {}}\n" + policyDoc("p", "image: nginx", "policy: *b"),
			[]string{`f.yaml:8: YAML aliases (*b) are not allowed in Ferry's documents`}},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
			[]string{"f.yaml:2: YAML aliases (*a, and 17 more) are not allowed in Ferry's documents"}},
		{"merge key", "x: &x {image: nginx}\n" + policyDoc("p", "<<: *x", "policy: {semver: {}}"),
			[]string{`f.yaml:7: YAML aliases (*x) are not allowed in Ferry's documents`}},
		{"non-string key", policyDoc("p", with("? [a]\n  : b")...),
			[]string{`f.yaml:8: spec: field names must be strings, got a list`}},
		{"all problems at once", policyDoc("Bad Name", "image: nginx:latest", "policy: {}", "minAge: soon", "extra: 1"),
			[]string{
				`f.yaml:4: metadata.name: "Bad Name" is not a valid name`,
				`f.yaml:6: spec.image: must be a repository without a tag`,
				`f.yaml:7: spec.policy: one of date, semver`,
				`f.yaml:8: spec.minAge: invalid duration "soon"`,
				`f.yaml:9: spec.extra: unknown field "extra"`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Parse("f.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse succeeded:\n%s\nwant errors %q", tc.src, tc.want)
			}
			if set != nil {
				t.Errorf("Parse returned a Set with its errors")
			}
			var es document.Errors
			if !errors.As(err, &es) {
				t.Fatalf("Parse error %T is not document.Errors: %v", err, err)
			}
			if len(es) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v\nsource:\n%s", len(es), len(tc.want), err, tc.src)
			}
			for i, e := range es {
				if !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, e.Error(), tc.want[i])
				}
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	es := document.Errors{
		{File: "a.yaml", Line: 3, Field: "spec.image", Msg: "must not be empty"},
		{File: "a.yaml", Line: 9, Msg: "invalid YAML: oops"},
	}
	want := "a.yaml:3: spec.image: must not be empty\na.yaml:9: invalid YAML: oops"
	if got := es.Error(); got != want {
		t.Errorf("document.Errors.Error() = %q, want %q", got, want)
	}
	var err error = es
	var one *document.Error
	if !errors.As(err, &one) || one != es[0] {
		t.Errorf("errors.As(*document.Error) = %v, want the first problem", one)
	}
	if !errors.As(err, &document.Errors{}) {
		t.Errorf("errors.As(&document.Errors{}) failed")
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"b.yaml":         policyDoc("b", "image: nginx", "policy: {semver: {}}"),
		"a/z.yml":        policyDoc("az", "image: nginx", "policy: {semver: {}}"),
		"a.yaml":         policyDoc("a", "image: nginx", "policy: {semver: {}}") + "---\n" + policyDoc("a2", "image: redis", "policy: {semver: {}}"),
		"c/d/e.yaml":     "apiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: app}\nspec: {source: {path: a}}\n",
		"notes.txt":      "kind: nonsense",
		"x.yaml.orig":    "kind: nonsense",
		"empty/.keep":    "",
		"c/README.md":    "# hi",
		"c/d/f.yaml":     "# only a comment\n",
		"dir.yaml/g.yml": policyDoc("g", "image: nginx", "policy: {pushedAt: {}}"),
	})
	set, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	var got []string
	for _, p := range set.Policies {
		rel, _ := filepath.Rel(dir, p.Source.File)
		got = append(got, p.Name+" "+filepath.ToSlash(rel))
	}
	// Sorted by path: "a.yaml" < "a/z.yml" since '.' < '/'.
	want := []string{"a a.yaml", "a2 a.yaml", "az a/z.yml", "b b.yaml", "g dir.yaml/g.yml"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	if len(set.Apps) != 1 || set.Apps[0].Name != "app" || set.Apps[0].Source.File != filepath.Join(dir, "c", "d", "e.yaml") {
		t.Errorf("Apps = %+v", set.Apps)
	}
}

func TestLoadDirErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"1.yaml":     policyDoc("dup", "image: nginx", "policy: {semver: {}}"),
		"2/2.yaml":   policyDoc("dup", "image: nginx", "policy: {semver: {}}"),
		"3.yaml":     policyDoc("bad", "image: nginx", "policy: {semver: {range: 'abc'}}"),
		"0.yml":      "key: [unclosed\n",
		"4.yaml":     policyDoc("ok", "image: nginx", "policy: {semver: {}}"),
		"5/app.yaml": "apiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: a}\nspec: {source: {path: a}}\n",
	})
	set, err := LoadDir(dir)
	if set != nil {
		t.Errorf("LoadDir returned a Set with errors")
	}
	var es document.Errors
	if !errors.As(err, &es) {
		t.Fatalf("LoadDir error = %v, want document.Errors", err)
	}
	j := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	want := []string{
		j("0.yml") + ":1: invalid YAML: ",
		j("2", "2.yaml") + ":4: metadata.name: duplicate policy name \"dup\" (first defined at " + j("1.yaml") + ":4)",
		j("3.yaml") + ":7: spec.policy.semver.range: invalid semver range \"abc\"",
	}
	if len(es) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(es), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(es[i].Error(), want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, es[i], want[i])
		}
	}
}

func TestLoadDirMissing(t *testing.T) {
	set, err := LoadDir(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) || set != nil {
		t.Errorf("LoadDir(missing) = %+v, %v; want fs.ErrNotExist", set, err)
	}
}

func TestLoadDirNotADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file.yaml")
	writeFiles(t, filepath.Dir(f), map[string]string{"file.yaml": ""})
	if _, err := LoadDir(f); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("LoadDir(file) error = %v, want 'is not a directory'", err)
	}
}

func TestParsedPolicySelects(t *testing.T) {
	set, err := Parse("p.yaml", []byte(fullPolicy))
	if err != nil {
		t.Fatal(err)
	}
	p := set.Policies[0]
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	var tags []image.Tag
	for _, n := range []string{"release.20240229", "release.20240301", "release.20240301.sig", "release.20240302-debug"} {
		tags = append(tags, image.Tag{Name: n, PushedAt: now.Add(-time.Hour)})
	}
	got, err := policy.Select(tags, p, now)
	if err != nil || got.Tag != "release.20240301" {
		t.Errorf("Select = %+v, %v; want release.20240301", got, err)
	}
	if !p.Governs("overlays/staging/x/kustomization.yaml") || p.Governs("overlays/prod/kustomization.yaml") {
		t.Errorf("Governs does not follow update.paths %q", p.UpdatePaths)
	}
}
