package policy_test

import (
	"fmt"
	"log"
	"regexp"
	"time"

	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

func ExampleSelect() {
	// A policy as package dotferry reads it from an ImagePolicy document.
	p := &policy.Policy{
		Name:     "myapp-staging",
		Image:    "ghcr.io/acme/myapp",
		Pattern:  regexp.MustCompile(`^release\.(?P<stamp>\d{8})$`),
		Extract:  "$stamp",
		Strategy: policy.Strategy{Kind: policy.Date, Layout: "20060102"},
	}
	tags := []image.Tag{
		{Name: "release.20240229"},
		{Name: "release.20240301", Digest: "sha256:3f1c"},
		{Name: "release.20240231"}, // no such day
		{Name: "latest"},
	}
	choice, err := policy.Select(tags, p, time.Now())
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
