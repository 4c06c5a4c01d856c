package gitrepo

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Credentials hold the Auth of each configured repository and give it only
// to remotes on that repository's host: a URL gets the Auth of the
// configured repository it names, else of a configured repository on the
// same host and port (the one sharing the longest path prefix), else
// none. So an App document naming some other server as its source
// (spec.source.repoURL) never receives the token of the repository it was
// read from. The zero value and nil hold none.
type Credentials struct {
	entries []credential
}

type credential struct {
	url, host, path string
	auth            Auth
}

// Add binds auth to the host of repoURL.
func (c *Credentials) Add(repoURL string, auth Auth) error {
	ep, err := transport.NewEndpoint(repoURL)
	if err != nil {
		return fmt.Errorf("parsing remote URL %s: invalid URL", RedactURL(repoURL))
	}
	c.entries = append(c.entries, credential{url: StripCredentials(repoURL), host: hostKey(ep), path: cleanPath(ep.Path), auth: auth})
	return nil
}

// For returns the Auth a remote URL may receive. When it gets none
// although credentials are configured, why says so, for error messages.
func (c *Credentials) For(rawURL string) (auth Auth, why string) {
	if c == nil || len(c.entries) == 0 {
		return Auth{}, ""
	}
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil || ep.Protocol == "file" {
		return Auth{}, ""
	}
	stripped := StripCredentials(rawURL)
	host, path := hostKey(ep), cleanPath(ep.Path)
	best, bestLen := -1, -1
	for i, e := range c.entries {
		switch {
		case e.url == stripped:
			return e.auth, ""
		case e.host != host:
			continue
		}
		if n := commonSegments(e.path, path); n > bestLen {
			best, bestLen = i, n
		}
	}
	if best < 0 {
		return Auth{}, fmt.Sprintf("no credentials were sent to %s: only the hosts of the configured repositories get them", host)
	}
	return c.entries[best].auth, ""
}

// StripCredentials returns rawURL without any password, and without any
// userinfo at all for http(s): the form a URL is compared, stored and
// shown in.
func StripCredentials(rawURL string) string {
	if ep, err := transport.NewEndpoint(rawURL); err == nil && (ep.Protocol == "http" || ep.Protocol == "https") {
		return StripUserinfo(rawURL)
	}
	return RedactURL(rawURL)
}

// hostKey is a remote's lowercase host and port, the protocol's default
// port when the URL names none.
func hostKey(ep *transport.Endpoint) string {
	port := ep.Port
	if port == 0 {
		port = map[string]int{"http": 80, "https": 443, "ssh": 22, "git": 9418}[ep.Protocol]
	}
	return strings.ToLower(ep.Host) + ":" + strconv.Itoa(port)
}

func cleanPath(p string) string {
	return strings.Trim(strings.TrimSuffix(strings.ToLower(p), ".git"), "/")
}

// commonSegments counts the leading path segments a and b share.
func commonSegments(a, b string) int {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	n := 0
	for n < len(as) && n < len(bs) && as[n] == bs[n] {
		n++
	}
	return n
}

// IsLoopback reports whether host (a name or address, IPv6 in brackets or
// not, without a port) is "localhost" or a loopback address: the only
// hosts credentials are sent to over plain http://.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}
