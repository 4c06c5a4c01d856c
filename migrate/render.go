package migrate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/policy"
	"github.com/ferrygitops/ferry/updater"
)

// YAML renders the plan's policies as ImagePolicy documents for .ferry/,
// each with a comment naming what it was converted from.
func (p *Plan) YAML() []byte {
	var b strings.Builder
	b.WriteString("# Converted from Argo CD Image Updater by `ferry import argocd-image-updater`.\n")
	for i, pol := range p.Policies {
		if i > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(&b, "# from %s\n", pol.From)
		b.WriteString("apiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\n")
		fmt.Fprintf(&b, "metadata:\n  name: %s\n", pol.Name)
		fmt.Fprintf(&b, "spec:\n  image: %s\n", pol.Image)
		if pol.Pattern != "" || len(pol.Exclude) > 0 {
			b.WriteString("  filterTags:\n")
			if pol.Pattern != "" {
				fmt.Fprintf(&b, "    pattern: %s\n", quote(pol.Pattern))
			}
			if len(pol.Exclude) > 0 {
				b.WriteString("    exclude:\n")
				for _, x := range pol.Exclude {
					fmt.Fprintf(&b, "      - %s\n", quote(x))
				}
			}
		}
		b.WriteString("  policy:\n")
		switch s := pol.Strategy; s.Kind {
		case policy.SemVer:
			fmt.Fprintf(&b, "    semver: {range: %s}\n", quote(s.Range))
		case policy.Alphabetical, policy.Numerical:
			fmt.Fprintf(&b, "    %s: {order: %s}\n", s.Kind, s.Order)
		default:
			fmt.Fprintf(&b, "    %s: {}\n", s.Kind)
		}
		if pol.Digest {
			b.WriteString("  digest: true\n")
		}
		if len(pol.UpdatePaths) > 0 {
			b.WriteString("  update:\n    paths:\n")
			for _, up := range pol.UpdatePaths {
				fmt.Fprintf(&b, "      - %s\n", quote(up))
			}
		}
	}
	return []byte(b.String())
}

// quote writes s as a single-quoted YAML scalar.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// CheckMarks asks check whether each mark can be written; a mark that
// cannot moves to Unmapped with the reason, and a policy left without any
// mark is dropped (it would update nothing), its files removed from the
// others' update.paths.
func (p *Plan) CheckMarks(check func(updater.Mark) error) {
	var marks []updater.Mark
	for _, m := range p.Marks {
		if err := check(m); err != nil {
			p.Unmapped = append(p.Unmapped, Item{Source: document.Source{File: m.File}, Setting: "marker " + m.Marker, Value: strings.Join(m.KeyPath, "."), Result: err.Error()})
			continue
		}
		marks = append(marks, m)
	}
	p.Marks = marks
	paths := map[string][]string{}
	for _, m := range marks {
		name, _, _ := strings.Cut(m.Marker, ":")
		if !slices.Contains(paths[name], m.File) {
			paths[name] = append(paths[name], m.File)
		}
	}
	kept := p.Policies[:0]
	for _, pol := range p.Policies {
		if len(paths[pol.Name]) == 0 {
			continue
		}
		pol.UpdatePaths = slices.Sorted(slices.Values(paths[pol.Name]))
		kept = append(kept, pol)
	}
	p.Policies = kept
}
