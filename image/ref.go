package image

import (
	"fmt"
	"strings"
	"time"
)

// Tag is one tag a registry reports for a repository.
type Tag struct {
	Name     string    `json:"name"`
	Digest   string    `json:"digest,omitempty"`
	PushedAt time.Time `json:"pushedAt,omitzero"`
}

// DockerHub is the canonical host of Docker Hub references.
const DockerHub = "docker.io"

// Ref is an image reference split into its parts. Repository is the
// normalised repository (host included); Tag and Digest are empty when
// absent. Ref values are comparable.
type Ref struct {
	Repository string
	Tag        string
	Digest     string
}

// String renders the reference in the canonical repo[:tag][@digest] form.
func (r Ref) String() string {
	var b strings.Builder
	b.Grow(len(r.Repository) + len(r.Tag) + len(r.Digest) + 2)
	b.WriteString(r.Repository)
	if r.Tag != "" {
		b.WriteByte(':')
		b.WriteString(r.Tag)
	}
	if r.Digest != "" {
		b.WriteByte('@')
		b.WriteString(r.Digest)
	}
	return b.String()
}

// Split splits s into its name, tag and digest exactly as written, without
// normalising the name. A tag is the part after the last ':' that follows the
// last '/'; a digest is the part after '@'.
func Split(s string) (name, tag, digest string) {
	name = s
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, digest = name[:i], name[i+1:]
	}
	slash := strings.LastIndexByte(name, '/')
	if i := strings.LastIndexByte(name, ':'); i > slash {
		name, tag = name[:i], name[i+1:]
	}
	return name, tag, digest
}

// Parse parses an image reference such as "nginx", "nginx:1.25",
// "ghcr.io/org/app:v1@sha256:..." and normalises its repository.
func Parse(s string) (Ref, error) {
	s = strings.TrimSpace(s)
	name, tag, digest := Split(s)
	repo, err := NormalizeRepository(name)
	if err != nil {
		return Ref{}, err
	}
	if strings.Contains(s, "@") && digest == "" {
		return Ref{}, fmt.Errorf("parsing image %q: empty digest", s)
	}
	if digest != "" && !validDigest(digest) {
		return Ref{}, fmt.Errorf("parsing image %q: invalid digest %q", s, digest)
	}
	if before, _, _ := strings.Cut(s, "@"); strings.HasSuffix(before, ":") {
		return Ref{}, fmt.Errorf("parsing image %q: empty tag", s)
	}
	if tag != "" && !validTag(tag) {
		return Ref{}, fmt.Errorf("parsing image %q: invalid tag %q", s, tag)
	}
	return Ref{Repository: repo, Tag: tag, Digest: digest}, nil
}

// NormalizeRepository returns the canonical form of a repository name
// (no tag, no digest): the host is lowercased, Docker Hub's aliases and the
// implicit "library/" namespace are made explicit, and a default HTTPS port
// is dropped. "nginx" and "docker.io/library/nginx" normalise alike.
func NormalizeRepository(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("parsing repository: empty name")
	}
	host, path := DockerHub, name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		first := name[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first {
			host, path = strings.ToLower(first), name[i+1:]
		}
	}
	host = strings.TrimSuffix(host, ":443")
	switch host {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		host = DockerHub
	}
	if host == DockerHub && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	if path == "" || !validPath(path) {
		return "", fmt.Errorf("parsing repository %q: invalid repository path %q", name, path)
	}
	if !validHost(host) {
		return "", fmt.Errorf("parsing repository %q: invalid registry host %q", name, host)
	}
	return host + "/" + path, nil
}

// Host returns the registry host of a normalised repository.
func Host(repository string) string {
	host, _, _ := strings.Cut(repository, "/")
	return host
}

// Path returns the repository path (without host) of a normalised repository.
func Path(repository string) string {
	_, path, _ := strings.Cut(repository, "/")
	return path
}

// Needle returns the shortest byte string that any spelling of the
// normalised repository must contain when written in a file: the path with
// Docker Hub's implicit "library/" removed. Repository paths are lowercase by
// specification, so a plain substring search is exact enough to prefilter.
func Needle(repository string) string {
	host, path, _ := strings.Cut(repository, "/")
	if host == DockerHub {
		path = strings.TrimPrefix(path, "library/")
	}
	return path
}

func validPath(p string) bool {
	for _, comp := range strings.Split(p, "/") {
		if comp == "" {
			return false
		}
		for i := 0; i < len(comp); i++ {
			c := comp[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			case c == '.' || c == '_' || c == '-':
				if i == 0 || i == len(comp)-1 {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// validTag reports whether t is a valid tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func validTag(t string) bool {
	if len(t) == 0 || len(t) > 128 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if i > 0 {
			ok = ok || c == '.' || c == '-'
		}
		if !ok {
			return false
		}
	}
	return true
}

// ValidTag reports whether t can be used as a tag.
func ValidTag(t string) bool { return validTag(t) }

// ValidDigest reports whether d is a digest ("sha256:" and 64 hex digits, or
// another registered algorithm).
func ValidDigest(d string) bool { return validDigest(d) }

func validDigest(d string) bool {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || alg == "" || len(hex) < 32 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
