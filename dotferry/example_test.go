package dotferry_test

import (
	"fmt"
	"log"
	"time"

	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

func ExampleParse() {
	set, err := dotferry.Parse(".ferry/myapp.yaml", []byte(`
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: myapp-staging
spec:
  image: ghcr.io/acme/myapp
  filterTags:
    pattern: '^release\.(?P<stamp>\d{8})$'
    extract: '$stamp'
  policy:
    date: {layout: '20060102'}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: myapp-staging}
spec:
  source: {path: overlays/staging}
  destination: {namespace: myapp-staging}
`))
	if err != nil {
		log.Fatal(err)
	}
	p := set.Policies[0]
	choice, err := policy.Select([]image.Tag{{Name: "release.20240229"}, {Name: "release.20240301"}}, p, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Name, "at", p.Source, "chooses", choice.Tag)
	fmt.Println(set.Apps[0].Name, "syncs", set.Apps[0].Path, "into", set.Apps[0].Namespace)

	_, err = dotferry.Parse(".ferry/bad.yaml", []byte(`
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata: {name: bad}
spec:
  image: ghcr.io/acme/myapp:1.0
  policy: {semver: {}, newest: {}}
`))
	fmt.Println(err)
	// Output:
	// myapp-staging at .ferry/myapp.yaml:2 chooses release.20240301
	// myapp-staging syncs overlays/staging into myapp-staging
	// .ferry/bad.yaml:6: spec.image: must be a repository without a tag, got "ghcr.io/acme/myapp:1.0" (the policy chooses the tag)
	// .ferry/bad.yaml:7: spec.policy.newest: unknown field "newest" (allowed: date, semver, numerical, alphabetical, pushedAt)
}
