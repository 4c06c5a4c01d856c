package policy_test

import (
	"fmt"
	"log"
	"time"

	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

func ExampleSelect() {
	set, err := policy.Parse("policies/myapp.yaml", []byte(`
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
`))
	if err != nil {
		log.Fatal(err)
	}
	tags := []image.Tag{
		{Name: "release.20240229"},
		{Name: "release.20240301", Digest: "sha256:3f1c"},
		{Name: "release.20240231"}, // no such day
		{Name: "latest"},
	}
	choice, err := policy.Select(tags, set.Policies[0], time.Now())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(choice.Tag, choice.Digest)
	fmt.Printf("seen %d, matched %d\n", choice.Seen, choice.Matched)
	for _, s := range choice.Skipped {
		fmt.Printf("skipped %s: %s\n", s.Tag, s.Reason)
	}
	// Output:
	// release.20240301 sha256:3f1c
	// seen 4, matched 2
	// skipped release.20240231: "20240231" is not a date in layout "20060102": day out of range
}
