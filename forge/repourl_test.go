package forge

import (
	"strings"
	"testing"
)

func TestParseRepoURL(t *testing.T) {
	for _, tt := range []struct{ in, owner, name string }{
		{"https://github.com/acme/manifests", "acme", "manifests"},
		{"https://github.com/acme/manifests.git", "acme", "manifests"},
		{"https://x-access-token:tok@github.com/acme/manifests.git", "acme", "manifests"},
		{"git@github.com:acme/manifests.git", "acme", "manifests"},
		{"ssh://git@ghe.example.com:2222/acme/manifests.git", "acme", "manifests"},
		{"http://127.0.0.1:4000/git/acme/manifests.git", "acme", "manifests"},
	} {
		o, n, err := ParseRepoURL(tt.in)
		if err != nil || o != tt.owner || n != tt.name {
			t.Errorf("ParseRepoURL(%q) = %q, %q, %v; want %q, %q", tt.in, o, n, err, tt.owner, tt.name)
		}
	}
	for _, bad := range []string{"https://github.com/acme", "manifests", "https://user:secret@github.com/x"} {
		_, _, err := ParseRepoURL(bad)
		if err == nil {
			t.Errorf("ParseRepoURL(%q): want an error", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}
