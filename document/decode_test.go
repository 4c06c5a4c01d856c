package document

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	type inner struct {
		Name string `yaml:"name"`
		On   bool   `yaml:"on"`
	}
	type cfg struct {
		Kind   string            `yaml:"kind"`
		Count  int               `yaml:"count"`
		Items  []inner           `yaml:"items"`
		Labels map[string]string `yaml:"labels"`
		Opt    *inner            `yaml:"opt"`
	}
	good := "kind: X\ncount: 3\nitems: [{name: a, on: true}, {name: b}]\nlabels: {x: y}\nopt: {name: o}\n"
	var c cfg
	var errs Errors
	ReadFile("good.yaml", []byte(good), &errs, func(d *Doc) { d.Decode(d.Root, "", &c) })
	if errs.Err() != nil || c.Kind != "X" || c.Count != 3 || len(c.Items) != 2 || !c.Items[0].On || c.Items[1].Name != "b" || c.Labels["x"] != "y" || c.Opt == nil || c.Opt.Name != "o" {
		t.Fatalf("decoded %+v, errors %v", c, errs)
	}

	bad := "kind: [1]\ncount: many\nitems:\n  - name: a\n    off: true\n  - on: perhaps\nlabels: {x: y, x: z}\n"
	errs = nil
	ReadFile("bad.yaml", []byte(bad), &errs, func(d *Doc) { d.Decode(d.Root, "", &cfg{}) })
	got := errs.Error()
	for _, want := range []string{
		"bad.yaml:1: kind: must be a string, got a list",
		"bad.yaml:2: count: must be a whole number",
		`bad.yaml:5: items[0].off: unknown field "off" (allowed: name, on)`,
		"bad.yaml:6: items[1].on: must be true or false",
		"bad.yaml:7: labels.x: duplicate key (first set at line 7)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	if len(errs) != 5 {
		t.Errorf("%d errors, want 5:\n%s", len(errs), got)
	}
}
