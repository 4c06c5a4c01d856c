package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrygitops/ferry/image"
)

func TestRanked(t *testing.T) {
	p := &Policy{Name: "p", Strategy: Strategy{Kind: SemVer}}
	tags := []image.Tag{{Name: "1.2.0"}, {Name: "v1.10.0"}, {Name: "junk"}, {Name: "1.9.0"}, {Name: "2.0.0-rc.1"}}
	ch, ranked, err := Ranked(tags, p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range ranked {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"v1.10.0", "1.9.0", "1.2.0"}, names); diff != "" {
		t.Errorf("ranked (-want +got):\n%s", diff)
	}
	sel, _ := Select(tags, p, time.Now())
	if ch.Tag != sel.Tag || ch.Tag != names[0] || ch.Matched != 3 {
		t.Errorf("Ranked's choice %+v, Select's %+v", ch, sel)
	}
}
