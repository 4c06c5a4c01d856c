package dotferry

import "testing"

// The example repository's documents load, its Promotion included.
func TestExampleRepositoryLoads(t *testing.T) {
	set, err := LoadDir("../examples/repo/.ferry")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := set.FindPromotion("myapp")
	if !ok || p.From != "myapp-staging" || p.ToApp != "myapp-production" || p.Job != "verify/smoke-job.yaml" {
		t.Fatalf("promotion = %+v", p)
	}
}
