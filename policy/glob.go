package policy

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Governs reports whether the slash-separated, repository-relative file is
// inside the policy's update.paths; every file is when there are none. A
// "**" segment matches any number of path segments, none included; other
// segments match one segment each with path.Match.
func (p *Policy) Governs(file string) bool {
	if len(p.UpdatePaths) == 0 {
		return true
	}
	file = path.Clean(strings.TrimPrefix(file, "./"))
	for _, g := range p.UpdatePaths {
		if matchGlob(g, file) {
			return true
		}
	}
	return false
}

// matchGlob matches a slash-separated glob against a cleaned path, segment
// by segment, without allocating. A glob ending in "/" matches everything
// below that directory, as if it ended in "/**".
func matchGlob(glob, name string) bool {
	for glob != "" {
		seg, rest, slash := strings.Cut(glob, "/")
		if slash && rest == "" {
			rest = "**"
		}
		if seg == "**" {
			for rest == "**" || strings.HasPrefix(rest, "**/") {
				_, rest, _ = strings.Cut(rest, "/")
			}
			if rest == "" {
				return true
			}
			for n := name; ; {
				if matchGlob(rest, n) {
					return true
				}
				i := strings.IndexByte(n, '/')
				if i < 0 {
					return false
				}
				n = n[i+1:]
			}
		}
		if name == "" {
			return false
		}
		nseg, nrest, _ := strings.Cut(name, "/")
		if ok, _ := path.Match(seg, nseg); !ok {
			return false
		}
		glob, name = rest, nrest
	}
	return name == ""
}

// checkGlob validates an update.paths entry.
func checkGlob(g string) error {
	switch {
	case g == "":
		return errors.New("empty glob")
	case strings.HasPrefix(g, "/"):
		return fmt.Errorf("glob %q must be relative to the repository root", g)
	}
	for _, seg := range strings.Split(g, "/") {
		if seg != "**" && strings.Contains(seg, "**") {
			return fmt.Errorf("glob %q: ** must be a whole path segment", g)
		}
	}
	for _, part := range strings.Split(g, "**") {
		if _, err := path.Match(part, ""); err != nil {
			return fmt.Errorf("glob %q: %w", g, err)
		}
	}
	return nil
}
