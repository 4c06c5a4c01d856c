package promote

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferrygitops/ferry/deploy"
)

// KubeconfigConnect finds staging's context through the aliases, and
// fails on a context the kubeconfig does not have.
func TestKubeconfigConnect(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: kind-one
  context: {cluster: c, user: u}
users:
- name: u
  user: {token: x}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	connect := KubeconfigConnect(kubeconfig, map[string]string{"staging": "kind-one"}, "records", slog.New(slog.DiscardHandler))
	s, kc, closeFn, err := connect(t.Context(), deploy.App{Name: "web", Context: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	if s == nil || kc == nil {
		t.Fatalf("staging %v, client %v", s, kc)
	}
	closeFn()
	if _, _, _, err := connect(t.Context(), deploy.App{Name: "web", Context: "production"}); err == nil {
		t.Error("a context the kubeconfig does not have: no error")
	}
}
