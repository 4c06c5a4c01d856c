package dotferry

import (
	"strings"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/policy"
)

// DefaultBranchTemplate names bot branches.
const DefaultBranchTemplate = "ferry/{{group}}"

// Config is the repository's Config document (kind: Config): defaults for
// the write-back. Every field is optional.
type Config struct {
	// PullRequest gives labels, reviewers, team reviewers, assignees and
	// draft to every policy that does not set its own.
	PullRequest policy.PullRequest `json:"pullRequest,omitzero"`
	// Branch is the template of bot branch names; {{group}} is replaced by
	// the group. Default DefaultBranchTemplate.
	Branch string `json:"branch"`
	// AuthorName and AuthorEmail sign Ferry's commits (spec.commit).
	AuthorName  string `json:"authorName,omitempty"`
	AuthorEmail string `json:"authorEmail,omitempty"`
	// Source is where the document was read; zero without one.
	Source document.Source `json:"source,omitzero"`
}

func defaultConfig() Config { return Config{Branch: DefaultBranchTemplate} }

// BranchFor renders the bot branch of a group.
func (c Config) BranchFor(group string) string {
	return strings.ReplaceAll(c.Branch, "{{group}}", group)
}

// BranchPrefix is the constant part of bot branch names before the group.
func (c Config) BranchPrefix() string {
	p, _, _ := strings.Cut(c.Branch, "{{group}}")
	return p
}

// BotBranch reports whether branch is one of Ferry's bot branches (the
// template with any group), and the group.
func (c Config) BotBranch(branch string) (group string, ok bool) {
	pre, suf, _ := strings.Cut(c.Branch, "{{group}}")
	if len(branch) <= len(pre)+len(suf) || !strings.HasPrefix(branch, pre) || !strings.HasSuffix(branch, suf) {
		return "", false
	}
	return branch[len(pre) : len(branch)-len(suf)], true
}

func (l *loader) configDoc(d *document.Doc) {
	src := d.Source()
	if l.config != nil {
		d.Errorf(nil, "", "a second Config document (the first is at %s); keep one", *l.config)
		return
	}
	l.config = &src
	mark := d.Mark()
	c := defaultConfig()
	c.Source = src
	top := d.Fields(d.Root, "", "apiVersion", "kind", "metadata", "spec")
	if mf, ok := top["metadata"]; ok {
		meta := d.Fields(mf.Val, "metadata", "name", "labels", "annotations")
		if nf, ok := meta["name"]; ok {
			d.Str(nf, "metadata.name")
		}
		d.StrMap(meta["labels"], "metadata.labels")
		d.StrMap(meta["annotations"], "metadata.annotations")
	}
	if sf, ok := top["spec"]; ok {
		spec := d.Fields(sf.Val, "spec", "pullRequest", "branch", "commit")
		if f, ok := spec["pullRequest"]; ok {
			c.PullRequest = pullRequest(d, f, "spec.pullRequest", false)
		}
		if f, ok := spec["branch"]; ok {
			if b, ok := d.Str(f, "spec.branch"); ok {
				if !strings.Contains(b, "{{group}}") {
					d.Errorf(f.Val, "spec.branch", "%q must contain {{group}}", b)
				} else {
					c.Branch = b
				}
			}
		}
		if f, ok := spec["commit"]; ok {
			cm := d.Fields(f.Val, "spec.commit", "authorName", "authorEmail")
			c.AuthorName, _ = d.Str(cm["authorName"], "spec.commit.authorName")
			c.AuthorEmail, _ = d.Str(cm["authorEmail"], "spec.commit.authorEmail")
		}
	}
	if !d.Failed(mark) {
		l.set.Config = c
	}
}
