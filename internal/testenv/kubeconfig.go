package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Kubeconfig writes a kubeconfig in a temporary directory whose contexts
// all reach server with a bearer token, the first one current, and returns
// its path.
func Kubeconfig(t testing.TB, server string, contexts ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"" + server + "\"}\ncontexts:\n")
	for _, c := range contexts {
		b.WriteString("- name: " + c + "\n  context: {cluster: c, user: u}\n")
	}
	b.WriteString("users:\n- name: u\n  user: {token: x}\n")
	if len(contexts) > 0 {
		b.WriteString("current-context: " + contexts[0] + "\n")
	}
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
