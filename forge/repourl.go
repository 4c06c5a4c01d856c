package forge

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/ferrygitops/ferry/gitrepo"
)

// ParseRepoURL returns the owner and name of a GitHub (or GitHub
// Enterprise) repository from its clone URL: https://host/owner/name(.git),
// ssh://git@host/owner/name.git or git@host:owner/name.git.
func ParseRepoURL(raw string) (owner, name string, err error) {
	p := raw
	if u, perr := url.Parse(raw); perr == nil && u.Scheme != "" && u.Host != "" {
		p = u.Path
	} else if at := strings.Index(raw, "@"); at >= 0 && strings.Contains(raw[at:], ":") {
		p = raw[strings.Index(raw[at:], ":")+at+1:]
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	parts := strings.Split(p, "/")
	if len(parts) < 2 || parts[len(parts)-2] == "" || parts[len(parts)-1] == "" {
		return "", "", fmt.Errorf("parsing repository URL %q: want .../OWNER/NAME", gitrepo.StripUserinfo(raw))
	}
	return parts[len(parts)-2], parts[len(parts)-1], nil
}
