package dotferry

import (
	"errors"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(fullPolicy))
	f.Add([]byte(policyDoc("p", "image: nginx", "policy: {semver: {range: '>=1.0.0'}}")))
	f.Add([]byte("apiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: x}\n---\n...\n--- {a: b}\n"))
	f.Add([]byte("a: &a [x, x]\nb: [*a, *a]\n"))
	f.Add([]byte("kind: [\n"))
	f.Add([]byte("\xef\xbb\xbf---\r\napiVersion: ferry.dev/v1alpha1\r\nkind: ImagePolicy\r\n"))
	f.Add([]byte(policyDoc("p", "image: nginx", "filterTags: {pattern: '(?P<x>.)', extract: '${x}$$'}", "policy: {numerical: {order: desc}}", "update: {paths: ['**']}")))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Parse("f.yaml", data)
		if err != nil {
			var es document.Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("Parse error is not a non-empty Errors: %v", err)
			}
			for _, e := range es {
				if e.File != "f.yaml" || e.Line < 1 || e.Msg == "" {
					t.Fatalf("badly located problem: %+v", e)
				}
			}
			if set != nil {
				t.Fatalf("Set returned with errors")
			}
			return
		}
		for _, p := range set.Policies {
			if _, err := policy.Select([]image.Tag{{Name: "1.0.0"}, {Name: "20240101"}, {Name: "v2"}}, p, time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)); err != nil {
				t.Fatalf("Select on parsed policy %+v: %v", p, err)
			}
			p.Governs("a/b/c.yaml")
		}
	})
}
